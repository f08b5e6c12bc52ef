"""Registries of vosbench.

The nodes that mmengine's Runner builds from (models, datasets, transforms,
metrics, hooks, ...) are children of mmengine's root registries, so that
``default_scope='vosbench'`` finds them and ``type='otherscope.Name'`` reaches
other OpenMMLab projects.

Model components with their own registry (``BACKBONES``, ``MEMORY_READERS``,
``DECODERS``, ``TTA``) are separate trees in the ``vosbench`` scope: a type not
registered there is looked up in ``MODELS`` (and through it in every other
OpenMMLab scope), so ``type='mmpretrain.ResNet'`` works as a backbone too.

Every node has explicit ``locations``: vosbench is not in mmengine's table of
known packages, so without them lazy registration would silently find nothing.
An unknown ``type`` raises a ``KeyError`` that lists what is registered.
"""
from typing import Any, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as \
    MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry, build_model_from_cfg


class VOSRegistry(Registry):
    """A :class:`mmengine.Registry` whose unknown types fail helpfully.

    Args:
        fallback (Registry, optional): Registry searched when a type is not
            found in this one (and its parents).
        Other arguments are those of :class:`mmengine.Registry`.
    """

    def __init__(self, *args, fallback: Optional[Registry] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._fallback = fallback

    def get(self, key: str) -> Any:
        obj = super().get(key)
        if obj is None and self._fallback is not None:
            obj = self._fallback.get(key)
        return obj

    def registered_names(self) -> list:
        """Names registered in this node (after importing its locations)."""
        self.import_from_location()
        return sorted(self.module_dict)

    def build(self, cfg, *args, **kwargs) -> Any:
        obj_type = cfg.get('type') if hasattr(cfg, 'get') else None
        if isinstance(obj_type, str):
            with self.switch_scope_and_registry(None) as registry:
                found = registry.get(obj_type)
            if found is None:
                raise KeyError(
                    f'{obj_type!r} is not in the vosbench {self.name!r} '
                    f'registry. Registered: {", ".join(self.registered_names())}. '
                    'If it lives in your own package, add '
                    "custom_imports=dict(imports=['your_pkg.module'], "
                    'allow_failed_imports=False) to the config, or write '
                    "type='scope.Name' for another OpenMMLab project.")
        return super().build(cfg, *args, **kwargs)


def _child(name: str, parent: Registry, location: str, **kwargs) -> VOSRegistry:
    return VOSRegistry(name, parent=parent, locations=[location], **kwargs)


# Runner-level nodes: children of mmengine's roots.
RUNNERS = _child('runner', MMENGINE_RUNNERS, 'vosbench.engine')
LOOPS = _child('loop', MMENGINE_LOOPS, 'vosbench.engine')
HOOKS = _child('hook', MMENGINE_HOOKS, 'vosbench.engine.hooks')
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS,
                        'vosbench.engine')
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, 'vosbench.engine')
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS,
                        'vosbench.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'vosbench.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS,
                          'vosbench.engine')
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS,
                        'vosbench.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS, 'vosbench.models')
DATASETS = _child('dataset', MMENGINE_DATASETS, 'vosbench.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS,
                       'vosbench.datasets')
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'vosbench.datasets')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    'vosbench.datasets.transforms')
MODELS = _child('model', MMENGINE_MODELS, 'vosbench.models')
METRICS = _child('metric', MMENGINE_METRICS, 'vosbench.evaluation.metrics')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR,
                   'vosbench.evaluation.metrics')
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS,
                     'vosbench.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS,
                     'vosbench.visualization')

# Model components: own trees in the vosbench scope, falling back to MODELS.
BACKBONES = VOSRegistry(
    'backbone', scope='vosbench', build_func=build_model_from_cfg,
    locations=['vosbench.models.backbones'], fallback=MODELS)
MEMORY_READERS = VOSRegistry(
    'memory reader', scope='vosbench', build_func=build_model_from_cfg,
    locations=['vosbench.models.memory'], fallback=MODELS)
DECODERS = VOSRegistry(
    'decoder', scope='vosbench', build_func=build_model_from_cfg,
    locations=['vosbench.models.decoders'], fallback=MODELS)
# Test-time augmentations (flip, scales) of a video stream.
TTA = VOSRegistry('test-time augmentation', scope='vosbench',
                  locations=['vosbench.models.tta'])
