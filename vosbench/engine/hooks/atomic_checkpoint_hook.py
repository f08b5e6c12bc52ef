"""A CheckpointHook whose checkpoints survive a kill at any moment.

mmengine 0.10.x's :class:`~mmengine.hooks.CheckpointHook` deletes the oldest
checkpoint (``max_keep_ckpts``) *before* it writes the new one, writes the new
one in place (``open(path, 'wb')``) and then rewrites ``last_checkpoint`` in
place. A process killed while the new checkpoint is written leaves a
truncated file, and with ``max_keep_ckpts=1`` nothing to resume from.

:class:`AtomicCheckpointHook` saves in this order instead:

1. the checkpoint goes to ``.<name>.tmp`` in the same folder, is flushed
   (``fsync``) and renamed into place (``os.replace``);
2. ``last_checkpoint`` is written the same way, pointing to it;
3. only then are the checkpoints beyond ``max_keep_ckpts`` removed.

A kill at any moment leaves ``last_checkpoint`` naming a complete file. The
removals still due are recorded in the checkpoint itself (message hub key
``pending_ckpt_removals``) and done when a run resumes from it; temporary
files of a killed save are removed at the start of the next run. Best
checkpoints (``save_best``) and published ones (``published_keys``) are
written the same way, and the previous best is removed only once the new one
is complete. Remote back ends (``out_dir`` on s3, ...) keep mmengine's
behaviour: an object store's ``put`` is already all-or-nothing.

It takes exactly CheckpointHook's arguments and is the default of
``configs/_base_/default_runtime.py`` (``default_hooks.checkpoint``).
"""
import hashlib
import os
import os.path as osp
import pickle
import shutil
from typing import List

import torch
from mmengine.dist import is_main_process, master_only
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from vosbench.engine.atomic_files import (TMP_SUFFIX, atomic_write,
                                          is_temporary_name,
                                          replace_into_place, temporary_name)
from vosbench.registry import HOOKS

#: Message hub key: checkpoints still to be removed once the checkpoint that
#: holds this list is complete.
PENDING_REMOVALS_KEY = 'pending_ckpt_removals'


class _AtomicSaveRunner:
    """The runner as :meth:`CheckpointHook._save_best_checkpoint` sees it:
    everything is the runner's, except that ``save_checkpoint`` is atomic."""

    def __init__(self, runner, hook: 'AtomicCheckpointHook'):
        self._runner = runner
        self._hook = hook

    def __getattr__(self, name):
        return getattr(self._runner, name)

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        self._hook._atomic_save(self._runner, out_dir, filename, *args,
                                **kwargs)


class _DeferredRemovals:
    """The file back end as :meth:`CheckpointHook._save_best_checkpoint`
    sees it: ``remove`` and ``rmtree`` are recorded, not done."""

    def __init__(self, backend):
        self._backend = backend
        self.pending: List[str] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def remove(self, path):
        self.pending.append(path)

    def rmtree(self, path):
        self.pending.append(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that never loses a checkpoint.

    Same arguments as ``CheckpointHook``; see the module docstring for the
    order of writes and removals.
    """

    def _is_local(self) -> bool:
        backend = self.file_backend
        if isinstance(backend, _DeferredRemovals):
            backend = backend._backend
        return isinstance(backend, LocalBackend)

    # -- start of a run -----------------------------------------------------
    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not (self._is_local() and is_main_process()):
            return
        hub = runner.message_hub
        pending = list(hub.runtime_info.get(PENDING_REMOVALS_KEY, []))
        if pending:
            # the run that wrote the resumed checkpoint died before removing
            # these; they are outside max_keep_ckpts
            self._remove_files(runner, pending)
            hub.update_info(PENDING_REMOVALS_KEY, [])
        folders = {osp.abspath(self.out_dir), osp.abspath(runner.work_dir)}
        for folder in folders:
            if not osp.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if self._is_own_temporary(name):
                    path = osp.join(folder, name)
                    runner.logger.info(
                        f'Removing {path}, left by a save that was '
                        'interrupted')
                    self._remove_files(runner, [path], log=False)

    def _is_own_temporary(self, name: str) -> bool:
        """Whether ``name`` is a temporary file this hook writes."""
        if not is_temporary_name(name):
            return False
        inner = name[1:-len(TMP_SUFFIX)]
        extension = osp.splitext(self.filename_tmpl)[1] or '.pth'
        return inner == 'last_checkpoint' or inner.endswith(extension)

    # -- writing ------------------------------------------------------------
    def _atomic_save(self, runner, out_dir, filename, *args, **kwargs):
        """``runner.save_checkpoint`` to a temporary name, then renamed."""
        if isinstance(runner, _AtomicSaveRunner):
            runner = runner._runner  # saving through it would rename twice
        if not self._is_local():
            runner.save_checkpoint(out_dir, filename, *args, **kwargs)
            return
        final = osp.join(out_dir, filename)
        tmp = temporary_name(final)
        runner.save_checkpoint(out_dir, osp.basename(tmp), *args, **kwargs)
        if is_main_process():  # Runner.save_checkpoint is master_only
            replace_into_place(tmp, final)

    def _remove_files(self, runner, paths, log: bool = True) -> None:
        for path in paths:
            if osp.isfile(path) or osp.islink(path):
                os.remove(path)
            elif osp.isdir(path):
                shutil.rmtree(path)
            else:
                continue
            if log:
                runner.logger.info(f'Removed {path} (max_keep_ckpts='
                                   f'{self.max_keep_ckpts})')

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        to_remove = []
        if self.max_keep_ckpts > 0:
            # the same bookkeeping as CheckpointHook, but the removal waits
            if not (len(self.keep_ckpt_ids) > 0
                    and self.keep_ckpt_ids[-1] == step):
                if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                    old_step = self.keep_ckpt_ids.popleft()
                    to_remove.append(
                        osp.join(self.out_dir,
                                 self.filename_tmpl.format(old_step)))
                self.keep_ckpt_ids.append(step)
                runner.message_hub.update_info('keep_ckpt_ids',
                                               list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # a run resumed from this checkpoint removes what this one could not
        runner.message_hub.update_info(PENDING_REMOVALS_KEY, to_remove)

        self._atomic_save(
            runner,
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        runner.message_hub.update_info(PENDING_REMOVALS_KEY, [])

        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     self.last_ckpt)
        self._remove_files(runner, to_remove)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best or not self._is_local():
            return super()._save_best_checkpoint(runner, metrics)
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(_AtomicSaveRunner(runner, self),
                                          metrics)
        finally:
            self.file_backend = backend
        if is_main_process():
            self._remove_files(runner, deferred.pending, log=False)

    @master_only
    def _publish_model(self, runner, ckpt_path: str) -> None:
        if not self._is_local():
            return super()._publish_model(runner, ckpt_path)
        from vosbench.engine.checkpoint import load_local_checkpoint
        checkpoint = load_local_checkpoint(ckpt_path, map_location='cpu')
        removed_keys = []
        for key in list(checkpoint.keys()):
            if key not in self.published_keys:
                removed_keys.append(key)
                checkpoint.pop(key)
        if removed_keys:
            print_log(
                f'Key {removed_keys} will be removed because they are not '
                'found in published_keys. If you want to keep them, '
                f'please set `{removed_keys}` in published_keys',
                logger='current')
        sha = hashlib.sha256(pickle.dumps(checkpoint)).hexdigest()
        final_path = osp.splitext(ckpt_path)[0] + f'-{sha[:8]}.pth'
        tmp = temporary_name(final_path)
        torch.save(checkpoint, tmp)
        replace_into_place(tmp, final_path)
        print_log(
            f'The checkpoint ({ckpt_path}) is published to {final_path}.',
            logger='current')
