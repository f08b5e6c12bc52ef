from .stm_decoder import RefineModule, ResidualBlock, STMDecoder

__all__ = ['RefineModule', 'ResidualBlock', 'STMDecoder']
