from .vos_data_preprocessor import VOSDataPreprocessor

__all__ = ['VOSDataPreprocessor']
