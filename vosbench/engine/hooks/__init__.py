from .prediction_writer_hook import PredictionWriterHook
from .visualization_hook import VOSVisualizationHook

__all__ = ['PredictionWriterHook', 'VOSVisualizationHook']
