# YouTube-VOS 2018: the 2019 settings on the 2018 release.
_base_ = ['./ytvos19.py']
data_root = 'data/YouTubeVOS2018'
train_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
test_evaluator = dict(seen_categories=data_root + '/train/meta.json')
