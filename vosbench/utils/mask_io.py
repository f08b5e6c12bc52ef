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
