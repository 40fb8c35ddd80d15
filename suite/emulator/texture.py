"""Texture objects for the host backend, as cupy.cuda.texture creates them: ChannelFormatDescriptor,
CUDAarray, ResourceDescriptor, TextureDescriptor and TextureObject, whose handle a kernel takes as
its `cudaTextureObject_t` parameter. The handle is the address of a descriptor (the ctypes mirror
of `__suite_texture` in suite/emulator/include/emu/texture.h) that tex1Dfetch/tex1D/tex2D/tex3D read.

    from suite.host import texture                      # cupy.cuda.texture, and cupy.cuda.runtime's constants
    ch = texture.ChannelFormatDescriptor(32, 0, 0, 0, texture.cudaChannelFormatKindFloat)
    arr = texture.CUDAarray(ch, width, height)
    arr.copy_from(image)                                 # a (height, width) float32 array
    res = texture.ResourceDescriptor(texture.cudaResourceTypeArray, cuArr=arr)
    tex = texture.TextureDescriptor((texture.cudaAddressModeClamp,) * 2, texture.cudaFilterModeLinear,
                                    texture.cudaReadModeElementType, normalizedCoords=1)
    kernel(grid, block, (texture.TextureObject(res, tex), out, ...))

Legacy texture references (`texture<T, 2>`, bound with cudaBindTexture) were removed in CUDA 12
and are not emulated. Mipmapped and layered textures, sRGB and anisotropic filtering are not either.
"""

from __future__ import annotations

import ctypes

import numpy as np

from suite.errors import InputError

cudaChannelFormatKindSigned, cudaChannelFormatKindUnsigned, cudaChannelFormatKindFloat = 0, 1, 2
cudaResourceTypeArray, cudaResourceTypeMipmappedArray, cudaResourceTypeLinear, cudaResourceTypePitch2D = 0, 1, 2, 3
cudaAddressModeWrap, cudaAddressModeClamp, cudaAddressModeMirror, cudaAddressModeBorder = 0, 1, 2, 3
cudaFilterModePoint, cudaFilterModeLinear = 0, 1
cudaReadModeElementType, cudaReadModeNormalizedFloat = 0, 1


class _Texture(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("extent", ctypes.c_uint64 * 3),
        ("pitch", ctypes.c_uint64 * 2),
        ("channels", ctypes.c_int),
        ("channel_bytes", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("address", ctypes.c_int * 3),
        ("filter", ctypes.c_int),
        ("normalized_read", ctypes.c_int),
        ("normalized_coords", ctypes.c_int),
        ("linear", ctypes.c_int),
        ("border", ctypes.c_float * 4),
    ]


class ChannelFormatDescriptor:
    """Bits per channel (x, y, z, w; 0: absent, the others equal) and the kind (signed, unsigned, float)."""

    def __init__(self, x: int, y: int, z: int, w: int, f: int):
        bits = [b for b in (x, y, z, w) if b]
        if not bits or len(set(bits)) != 1 or bits[0] not in (8, 16, 32) or (x, y, z, w)[: len(bits)] != tuple(bits):
            raise InputError(f"ChannelFormatDescriptor({x}, {y}, {z}, {w}): expected 1 to 4 leading channels of "
                             "equal size, 8, 16 or 32 bits each")
        if f not in (cudaChannelFormatKindSigned, cudaChannelFormatKindUnsigned, cudaChannelFormatKindFloat) or \
                (f == cudaChannelFormatKindFloat and bits[0] == 8):
            raise InputError(f"ChannelFormatDescriptor kind {f}: expected signed (0), unsigned (1) or float (2, "
                             "16 or 32 bits)")
        self.x, self.y, self.z, self.w, self.f = x, y, z, w, f
        self.channels, self.channel_bytes = len(bits), bits[0] // 8

    @property
    def dtype(self) -> np.dtype:
        letter = {cudaChannelFormatKindSigned: "i", cudaChannelFormatKindUnsigned: "u", cudaChannelFormatKindFloat: "f"}[self.f]
        return np.dtype(f"{letter}{self.channel_bytes}")

    def get_channel_format(self) -> dict:
        return {"x": self.x, "y": self.y, "z": self.z, "w": self.w, "f": self.f}


class CUDAarray:
    """A CUDA array of width x height x depth texels (height/depth 0: fewer dimensions)."""

    def __init__(self, desc: ChannelFormatDescriptor, width: int, height: int = 0, depth: int = 0, flags: int = 0):
        if width < 1 or height < 0 or depth < 0 or (depth and not height):
            raise InputError(f"CUDAarray({width}, {height}, {depth}): expected width >= 1, and height before depth")
        self.desc, self.width, self.height, self.depth, self.flags = desc, width, height, depth, flags
        self.ndim = 3 if depth else 2 if height else 1
        shape = (depth or 1, height or 1, width, desc.channels)
        self._texels = np.zeros(shape, desc.dtype)

    def _checked(self, array, what: str) -> np.ndarray:
        array = np.asarray(array.cpu() if hasattr(array, "cpu") else array)
        if array.dtype != self.desc.dtype or array.size != self._texels.size:
            raise InputError(f"CUDAarray.{what}: expected {self._texels.size} {self.desc.dtype} elements "
                             f"({self.width} x {max(self.height, 1)} x {max(self.depth, 1)} texels of "
                             f"{self.desc.channels} channel(s)); got {array.size} {array.dtype}")
        return array

    def copy_from(self, in_arr, stream=None) -> None:
        self._texels[...] = self._checked(in_arr, "copy_from").reshape(self._texels.shape)

    def copy_to(self, out_arr, stream=None) -> None:
        out = self._checked(out_arr, "copy_to")
        out.reshape(-1)[...] = self._texels.reshape(-1)


class ResourceDescriptor:
    """What a texture reads: a CUDAarray (cuArr), or linear (arr, sizeInBytes) or pitched 2D
    (arr, width, height, pitchInBytes) memory, a numpy array or CPU tensor."""

    def __init__(self, restype: int, cuArr: CUDAarray | None = None, arr=None, chDesc: ChannelFormatDescriptor | None = None,
                 sizeInBytes: int = 0, width: int = 0, height: int = 0, pitchInBytes: int = 0):
        if restype == cudaResourceTypeArray:
            if not isinstance(cuArr, CUDAarray):
                raise InputError("ResourceDescriptor(cudaResourceTypeArray) needs cuArr=CUDAarray(...)")
        elif restype in (cudaResourceTypeLinear, cudaResourceTypePitch2D):
            if arr is None or chDesc is None:
                raise InputError("ResourceDescriptor of linear or pitched memory needs arr= and chDesc=")
        else:
            raise InputError(f"ResourceDescriptor restype {restype}: expected cudaResourceTypeArray (0), "
                             "cudaResourceTypeLinear (2) or cudaResourceTypePitch2D (3); mipmapped arrays are not emulated")
        self.restype, self.cuArr, self.arr, self.chDesc = restype, cuArr, arr, chDesc
        self.sizeInBytes, self.width, self.height, self.pitchInBytes = sizeInBytes, width, height, pitchInBytes


class TextureDescriptor:
    def __init__(self, addressModes=None, filterMode: int = cudaFilterModePoint, readMode: int = cudaReadModeElementType,
                 sRGB=None, borderColors=None, normalizedCoords=None, maxAnisotropy=None):
        modes = tuple(addressModes or ()) + (cudaAddressModeWrap,) * (3 - len(addressModes or ()))
        if any(m not in (0, 1, 2, 3) for m in modes) or len(modes) != 3:
            raise InputError(f"TextureDescriptor addressModes {addressModes!r}: expected up to 3 of wrap (0), clamp (1), "
                             "mirror (2), border (3)")
        if filterMode not in (0, 1) or readMode not in (0, 1):
            raise InputError(f"TextureDescriptor filterMode={filterMode}, readMode={readMode}: expected 0 or 1 each")
        if sRGB or (maxAnisotropy or 0) > 1:
            raise InputError("TextureDescriptor: sRGB and anisotropic filtering are not emulated")
        self.addressModes, self.filterMode, self.readMode = modes, filterMode, readMode
        self.borderColors = tuple(borderColors or (0.0,) * 4)
        self.normalizedCoords = bool(normalizedCoords)


def _address(array) -> tuple[int, int]:
    """(address, bytes) of a contiguous numpy array or CPU tensor."""
    if hasattr(array, "data_ptr"):
        if array.device.type != "cpu" or not array.is_contiguous():
            raise InputError("a texture's memory must be a contiguous CPU tensor or numpy array")
        return array.data_ptr(), array.numel() * array.element_size()
    if isinstance(array, np.ndarray) and array.flags.c_contiguous:
        return array.ctypes.data, array.nbytes
    raise InputError(f"a texture's memory must be a contiguous CPU tensor or numpy array; got {type(array).__name__}")


class TextureObject:
    """The texture a kernel samples; pass it as the `cudaTextureObject_t` argument (its `ptr`)."""

    def __init__(self, ResDesc: ResourceDescriptor, TexDesc: TextureDescriptor):
        self.ResDesc, self.TexDesc = ResDesc, TexDesc
        desc = ResDesc.cuArr.desc if ResDesc.restype == cudaResourceTypeArray else ResDesc.chDesc
        texel = desc.channels * desc.channel_bytes
        t = _Texture()
        t.channels, t.channel_bytes, t.kind = desc.channels, desc.channel_bytes, desc.f
        if TexDesc.filterMode == cudaFilterModeLinear and desc.f != cudaChannelFormatKindFloat and \
                TexDesc.readMode != cudaReadModeNormalizedFloat:
            raise InputError("linear filtering of an integer texture needs readMode=cudaReadModeNormalizedFloat, as on the GPU")
        if ResDesc.restype == cudaResourceTypeArray:
            a = ResDesc.cuArr
            t.data = a._texels.ctypes.data
            extent = (a.width, max(a.height, 1), max(a.depth, 1))
            pitch = (a.width * texel, a.width * max(a.height, 1) * texel)
        else:
            address, nbytes = _address(ResDesc.arr)
            t.data = address
            if ResDesc.restype == cudaResourceTypeLinear:
                size = ResDesc.sizeInBytes or nbytes
                extent, pitch, t.linear = (size // texel, 1, 1), (size, size), 1
            else:
                extent = (ResDesc.width, ResDesc.height, 1)
                pitch = (ResDesc.pitchInBytes, ResDesc.pitchInBytes * ResDesc.height)
                if ResDesc.pitchInBytes < ResDesc.width * texel:
                    raise InputError(f"pitchInBytes={ResDesc.pitchInBytes} is below width x texel bytes ({ResDesc.width * texel})")
            if pitch[1] > nbytes:
                raise InputError(f"the texture spans {pitch[1]} bytes; its memory has {nbytes}")
        t.extent[:] = extent
        t.pitch[:] = pitch
        t.address[:] = TexDesc.addressModes
        t.filter, t.normalized_read = TexDesc.filterMode, TexDesc.readMode
        t.normalized_coords = int(TexDesc.normalizedCoords)
        t.border[:] = TexDesc.borderColors
        self._descriptor = t  # its address is the handle; the arrays above stay referenced through self
        self.ptr = ctypes.addressof(t)
