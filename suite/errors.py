"""Typed errors raised below the CLI. The CLI maps them to messages and exit codes; nothing here prints."""


class SuiteError(Exception):
    """Base of every error the suite raises on purpose."""


class InputError(SuiteError, ValueError):
    """The user's input is wrong (a case file, an argument, a result file). CLI exit code 2."""


class CaseFileError(InputError):
    """A case file is malformed. Names the file, the key path and, where YAML gives it, the line."""

    def __init__(self, file, key_path, message, line=None):
        self.file, self.key_path, self.line, self.reason = str(file), key_path, line, message
        where = self.file + (f":{line}" if line is not None else "")
        at = f" at '{key_path}'" if key_path else ""
        super().__init__(f"{where}{at}: {message}")


class BackendUnavailable(InputError):
    """The requested backend cannot run here (for example `cupy` on a machine without a GPU)."""


class KernelCompileError(SuiteError):
    """A kernel failed to compile; the message carries the compiler's file:line diagnostics."""


class KernelLaunchError(SuiteError):
    """A launch was refused before it ran: bad arguments or a launch limit of the architecture."""


class ValidationError(SuiteError):
    """A case cannot be judged: its reference gives no usable bound (e.g. it overflows in the kernel's dtype)."""


class KernelFault(SuiteError):
    """A kernel misbehaved while running: invalid access, barrier divergence, deadlock, race, crash."""


class OpArgumentError(InputError, RuntimeError):
    """Bad arguments to a public op in suite.ops. Also a RuntimeError, as torch and torchvision raise for the same inputs."""
