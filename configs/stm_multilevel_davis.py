# Shortcut for the multi-level DAVIS full training, so that the command of
# the design works as typed:
#
#   tools/dist_train.sh configs/stm_multilevel_davis.py 4
#
# It only inherits
# configs/stm/stm_multilevel-r50_4xb4-80k_static-pretrain-davis17-ytvos19.py
# and changes nothing: STM with the multi-level ResNet-50 backbone (the DAVIS
# 2020 challenge report's), main training on DAVIS 2017 + YouTube-VOS 2019
# train started from the static-image pre-training checkpoint, 4 GPUs x 4
# clips of 3 frames at 384x384, Adam 5e-6, 80k iterations, evaluated on
# DAVIS 2017 val. Run the pre-training first (it writes the checkpoint that
# load_from names), or point load_from elsewhere:
#
#   tools/dist_train.sh \
#       configs/stm/stm_multilevel-r50_4xb4-150k_static-pretrain.py 4
#   tools/dist_train.sh configs/stm_multilevel_davis.py 4 \
#       [--cfg-options load_from=PATH/TO/pretrain.pth]
#
# The work dir is work_dirs/stm_multilevel_davis (from this file's name).
# See docs/user_guides/training_recipes.md.
_base_ = ['./stm/stm_multilevel-r50_4xb4-80k_static-pretrain-davis17-ytvos19.py']
