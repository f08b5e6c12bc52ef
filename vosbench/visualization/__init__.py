from .overlay import overlay_masks

__all__ = ['overlay_masks']
