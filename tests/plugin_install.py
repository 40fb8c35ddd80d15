"""Register kernel-family plugins in a test the way pip leaves an installed package: a dist-info
folder with an entry_points.txt, on sys.path."""

from suite import kernels


def forget_plugins() -> None:
    """Make the registry look for plugins again (it caches what it found)."""
    kernels._modules.cache_clear()
    kernels._installed_family.cache_clear()
    kernels.family_origin.cache_clear()


def install(folder, monkeypatch, entry_points: str, name: str = "test-plugin") -> None:
    """`entry_points`: lines `family = module` of group rawkernel_suite.families. Undone by monkeypatch
    (sys.path) and forget_plugins() (the registry's caches)."""
    dist = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{kernels.ENTRY_POINT_GROUP}]\n{entry_points}\n")
    monkeypatch.syspath_prepend(str(folder))
    forget_plugins()
