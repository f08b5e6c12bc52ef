"""Register every vosbench module and set the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import all vosbench modules so that they register themselves.

    Also installs the checkpoint loader that keeps ``weights_only=True``
    working with mmengine on current torch
    (:func:`vosbench.engine.install_safe_checkpoint_loader`); importing
    vosbench itself changes nothing in mmengine.

    Args:
        init_default_scope (bool): Make ``vosbench`` the current default
            scope of mmengine's registries. Defaults to True.
    """
    # the one function that imports every layer, by its nature
    import vosbench.apis  # noqa: F401,F811
    import vosbench.datasets  # noqa: F401,F811
    import vosbench.engine  # noqa: F401,F811
    import vosbench.evaluation.metrics  # noqa: F401,F811
    import vosbench.models  # noqa: F401,F811
    import vosbench.visualization  # noqa: F401,F811
    from vosbench.engine import install_safe_checkpoint_loader
    install_safe_checkpoint_loader()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'vosbench':
        if current is not None:
            warnings.warn(f'The current default scope {current.scope_name!r}'
                          ' is not "vosbench"; a new one named "vosbench-'
                          'timestamp" is created and used.')
        name = 'vosbench' if current is None else \
            f'vosbench-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='vosbench')
