"""Reading and writing label masks (palette PNGs, as DAVIS and YouTube-VOS ship them)."""
import os
import os.path as osp
from typing import Optional

import numpy as np
from PIL import Image


def make_palette(num_colors: int = 256) -> np.ndarray:
    """The DAVIS / PASCAL VOC colour map.

    Label ``i`` gets the colour whose bits are the bits of ``i`` spread
    over the three channels, most significant first.

    Returns:
        np.ndarray: ``(num_colors, 3)`` uint8 RGB colours.
    """
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for label in range(num_colors):
        value, r, g, b = label, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[label] = (r, g, b)
    return palette


DAVIS_PALETTE = make_palette()


class MaskReadError(ValueError):
    """A mask file is missing, unreadable or not a label map."""


def read_mask(path: str, palette: Optional[np.ndarray] = None) -> np.ndarray:
    """Read a label mask.

    Accepts palette PNGs (the label is the palette index), single-channel
    images (the value is the label; DAVIS 2016's 0/255 masks stay 0/255) and
    RGB renderings in the DAVIS palette (each colour mapped back to its label).

    Args:
        path (str): Image file.
        palette (np.ndarray, optional): ``(N, 3)`` colours for RGB masks.
            Defaults to the DAVIS palette.

    Returns:
        np.ndarray: ``(H, W)`` uint8 labels.

    Raises:
        MaskReadError: naming the file, when it is missing, cannot be
            decoded, or is an RGB image with colours outside the palette.
    """
    if not osp.isfile(path):
        raise MaskReadError(f'mask file not found: {path}')
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode == 'P':
                labels = np.array(img, dtype=np.uint8)
            elif mode in ('L', '1', 'I', 'I;16'):
                labels = np.array(img.convert('L') if mode == '1' else img)
                if labels.max(initial=0) > 255:
                    raise MaskReadError(f'mask {path} has values above 255')
                labels = labels.astype(np.uint8)
            elif mode in ('RGB', 'RGBA'):
                labels = _rgb_to_labels(np.array(img.convert('RGB')), path,
                                        DAVIS_PALETTE if palette is None
                                        else palette)
            else:
                raise MaskReadError(f'mask {path} has unsupported image mode '
                                    f'{mode!r}')
    except MaskReadError:
        raise
    except Exception as exc:  # PIL raises many types for corrupt files
        raise MaskReadError(f'cannot read mask {path}: {exc}') from exc
    return labels


#: How a dataset's mask files hold the objects: ``'labels'`` (palette or
#: grey labels, DAVIS 2017 and YouTube-VOS) or ``'binary'`` (one object as
#: 255 on 0, the DAVIS 2016 release).
MASK_FORMATS = ('labels', 'binary')


def read_binary_mask(path: str) -> np.ndarray:
    """Read a DAVIS 2016 mask: 0 background, 255 the one object.

    Returns:
        np.ndarray: ``(H, W)`` uint8, 1 on the object, 0 elsewhere.

    Raises:
        MaskReadError: naming the file, when it cannot be read or has a
            value other than 0 and 255.
    """
    mask = read_mask(path)
    values = np.unique(mask)
    others = values[(values != 0) & (values != 255)]
    if others.size:
        raise MaskReadError(
            f'mask {path} has values {others[:5].tolist()}'
            f'{" ..." if others.size > 5 else ""}: a DAVIS 2016 mask has '
            'only 0 (background) and 255 (the object)')
    return (mask == 255).astype(np.uint8)


def read_mask_as(path: str, mask_format: str = 'labels') -> np.ndarray:
    """``(H, W)`` uint8 labels of ``path`` read as ``mask_format`` (one of
    :data:`MASK_FORMATS`): :func:`read_mask` or :func:`read_binary_mask`."""
    if mask_format == 'labels':
        return read_mask(path)
    if mask_format == 'binary':
        return read_binary_mask(path)
    raise ValueError(f'mask_format must be one of {MASK_FORMATS}, got '
                     f'{mask_format!r}')


def read_user_mask(path: str) -> np.ndarray:
    """Read a mask drawn for one's own video, in any of the usual forms.

    - a palette PNG (DAVIS, YouTube-VOS): the palette index is the label;
    - a grey image with only 0 and 255 (a binary mask, DAVIS 2016): one
      object, label 1; other grey images: the value is the label;
    - an RGB image: colours of the DAVIS palette are their labels; when any
      colour is not, every colour but black is one object, numbered 1, 2,
      ... in the order the colours first appear (row by row).

    Returns:
        np.ndarray: ``(H, W)`` uint8 labels (0 background).

    Raises:
        MaskReadError: naming the file, when it cannot be read or an RGB
            mask has more than 254 colours.
    """
    try:
        labels = read_mask(path)
    except MaskReadError as exc:
        if 'not in the DAVIS palette' not in str(exc):
            raise
    else:
        with Image.open(path) as img:
            grey = img.mode in ('L', '1', 'I', 'I;16')
        if grey and set(np.unique(labels).tolist()) <= {0, 255}:
            return (labels == 255).astype(np.uint8)
        return labels
    with Image.open(path) as img:
        rgb = np.array(img.convert('RGB'))
    codes = (rgb[..., 0].astype(np.int32) << 16) | \
        (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2].astype(np.int32)
    flat = codes.ravel()
    colours, first = np.unique(flat, return_index=True)
    objects = [c for c, _ in sorted(zip(colours.tolist(), first.tolist()),
                                    key=lambda pair: pair[1]) if c != 0]
    if len(objects) > 254:
        raise MaskReadError(f'mask {path} has {len(objects)} colours; an '
                            'RGB mask may have at most 254 objects (is it '
                            'a photo, or saved with anti-aliasing?)')
    lut = {code: label for label, code in enumerate(objects, start=1)}
    lut[0] = 0
    index = np.searchsorted(colours, flat)
    labels_of_colour = np.array([lut[c] for c in colours.tolist()],
                                dtype=np.uint8)
    return labels_of_colour[index].reshape(codes.shape)


def _rgb_to_labels(rgb: np.ndarray, path: str,
                   palette: np.ndarray) -> np.ndarray:
    """Map an ``(H, W, 3)`` RGB rendering back to palette labels."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | \
        (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2].astype(np.int32)
    pal = palette.astype(np.int32)
    pal_codes = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    lookup = {}
    for label, code in enumerate(pal_codes.tolist()):
        lookup.setdefault(code, label)
    uniq, inverse = np.unique(codes, return_inverse=True)
    labels_of_uniq = np.empty(len(uniq), dtype=np.int32)
    for i, code in enumerate(uniq.tolist()):
        if code not in lookup:
            color = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
            raise MaskReadError(
                f'mask {path} is RGB and has colour {color} which is not in '
                'the DAVIS palette; save masks as palette PNGs')
        labels_of_uniq[i] = lookup[code]
    return labels_of_uniq[inverse.reshape(codes.shape)].astype(np.uint8)


def write_mask(path: str, labels: np.ndarray,
               palette: Optional[np.ndarray] = None) -> None:
    """Write ``(H, W)`` uint8 labels as a palette PNG.

    The file is written to a temporary name and renamed, so an interrupted
    run never leaves a truncated PNG behind.
    """
    if labels.ndim != 2:
        raise ValueError(f'labels for {path} must be (H, W), got shape '
                         f'{labels.shape}')
    img = Image.fromarray(labels.astype(np.uint8), mode='P')
    img.putpalette((DAVIS_PALETTE if palette is None else palette)
                   .astype(np.uint8).ravel().tolist())
    dirname = osp.dirname(path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}.png'
    img.save(tmp)
    os.replace(tmp, path)
