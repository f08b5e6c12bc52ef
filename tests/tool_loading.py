"""Load a script of ``tools/`` as a module (the tools are not a package).

Test files import it as ``from tool_loading import load_tool``: pytest puts
``tests/`` on ``sys.path`` for ``tests/conftest.py``.
"""
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str, module_name: Optional[str] = None) -> ModuleType:
    """Execute ``path`` (relative to the repository, e.g. ``tools/test.py``)
    as a new module named ``module_name`` (default ``vosbench_tool_<file
    stem>``); every call gives a fresh module."""
    if module_name is None:
        module_name = 'vosbench_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(
        module_name, osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool_main(tool: ModuleType, args, capsys) -> tuple:
    """Call ``tool.main`` with ``args`` (made strings) in process;
    ``(exit code, stdout, stderr)``, the code 0 unless it raised
    ``SystemExit``."""
    try:
        tool.main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
