"""Pure functions behind the metrics (numpy / OpenCV, no mmengine)."""
from .davis_measures import (SequenceEvaluationError, boundary_map,
                             boundary_radius, disk_kernel, evaluate_sequence,
                             f_measure, jaccard, sequence_statistics)
from .davis_summary import (GLOBAL_MEASURES, PER_SEQUENCE_MEASURES,
                            format_tables, global_statistics,
                            global_table_rows, object_statistics,
                            per_object_table_rows, remove_result_files,
                            result_file_paths, sort_sequence_results,
                            unscored_objects, write_davis_results,
                            write_global_csv, write_per_sequence_csv,
                            write_results_json)

__all__ = [
    'SequenceEvaluationError', 'boundary_map', 'boundary_radius',
    'disk_kernel', 'evaluate_sequence', 'f_measure', 'jaccard',
    'sequence_statistics', 'GLOBAL_MEASURES', 'PER_SEQUENCE_MEASURES',
    'format_tables', 'global_statistics', 'global_table_rows',
    'object_statistics', 'per_object_table_rows', 'remove_result_files',
    'result_file_paths', 'sort_sequence_results', 'unscored_objects',
    'write_davis_results', 'write_global_csv', 'write_per_sequence_csv',
    'write_results_json'
]
