"""The LoveDA -> UTCD / WHDLD family: converters, datasets, decoders, weights, configs, a short UDA run each.

Data are tiny PNG/JPG folders in each dataset's official layout; networks are shrunk (ResNet-18,
MiT-B0-sized) where a test trains or builds many of them.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch

from cli_helpers import call_cli_ok
from conftest import REPO
from daspm.apis.config_loading import load_config
from daspm.classes import IGNORE_INDEX, LOVEDA_CLASSES, LOVEDA_PALETTE
from daspm.convert.formats.image_folders import complete_splits
from daspm.convert.formats.whdld import WHDLD_CODES
from daspm.convert.pipeline import convert_dataset
from daspm.utils.errors import DaspmInputError

DECODERS = ('daformer_mitb5_s0', 'daformer_dv2', 'daformer_dv3p', 'daformer_danet', 'daformer_isanet')
RUNS = ('source-only', 'uda_warm_fdthings_rcs_croppl_a999', 'target-oracle')
FAMILIES = {'utcd': 512, 'whdld': 256}  # target -> crop
CONFIGS = [f'configs/daspm/loveda2{t}_{r}_{d}.py' for t in FAMILIES for d in DECODERS for r in RUNS]


# ------------------------------------------------------------------ tiny raw datasets

def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def make_loveda(root: Path, size: int = 64, seed: int = 0) -> Path:
    """{Train,Val}/{Urban,Rural}/{images_png,masks_png}: two tiles per folder, masks 0..7; Test/ without masks."""
    rng = np.random.default_rng(seed)
    i = 0
    for split in ('Train', 'Val'):
        for scene in ('Urban', 'Rural'):
            for _ in range(2):
                _png(root / split / scene / 'images_png' / f'{i}.png', rng.integers(0, 256, (size, size, 3), np.uint8))
                mask = rng.integers(0, 8, (size, size), np.uint8)
                mask[0, :8] = np.arange(8)  # every value in every tile
                _png(root / split / scene / 'masks_png' / f'{i}.png', mask)
                i += 1
    _png(root / 'Test' / 'Urban' / 'images_png' / f'{i}.png', rng.integers(0, 256, (size, size, 3), np.uint8))
    return root


def make_whdld(root: Path, n: int = 10, size: int = 32, seed: int = 1) -> Path:
    """Images/<name>.jpg + ImagesPNG/<name>.png with the WHDLD codes 1..6, no split files."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        _png(root / 'Images' / f'wh_{k:02d}.jpg', rng.integers(0, 256, (size, size, 3), np.uint8))
        _png(root / 'ImagesPNG' / f'wh_{k:02d}.png', rng.integers(1, 7, (size, size), np.uint8))
    return root


def make_utcd(root: Path, n: int = 6, size: int = 48, seed: int = 2) -> Path:
    """The reference's image_spm/ + label_spm/ with LoveDA train ids (and ignore), val.txt only."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        _png(root / 'image_spm' / f'ut_{k}.png', rng.integers(0, 256, (size, size, 3), np.uint8))
        label = rng.integers(0, 7, (size, size), np.uint8)
        label[0, :3] = IGNORE_INDEX
        _png(root / 'label_spm' / f'ut_{k}.png', label)
    (root / 'val.txt').write_text('ut_1\nut_4.png\n')
    return root


def _digest(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else 'dir',
                                       p.stat().st_mtime_ns) for p in sorted(root.rglob('*'))}


def _ann(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _label(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope='module')
def converted(tmp_path_factory) -> Path:
    """The three tiny raw datasets and their conversions (what the e2e runs train on)."""
    root = tmp_path_factory.mktemp('loveda_family')
    convert_dataset(make_loveda(root / 'loveda'), root / 'loveda_converted', dataset='loveda', progress=False)
    convert_dataset(make_utcd(root / 'utcd'), root / 'utcd_converted', dataset='utcd', progress=False)
    convert_dataset(make_whdld(root / 'whdld'), root / 'whdld_converted', dataset='whdld', progress=False)
    return root


# ------------------------------------------------------------------ converters

def test_loveda_conversion(converted, tmp_path):
    raw, out = converted / 'loveda', converted / 'loveda_converted'
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['dataset'] == 'loveda' and manifest['status'] == 'complete' and manifest['num_images'] == 8
    assert manifest['classes'] == list(LOVEDA_CLASSES) and manifest['image_suffix'] == '.png'
    assert manifest['splits'] == {'train': 4, 'val': 4, 'train_urban': 2, 'val_urban': 2, 'train_rural': 2,
                                  'val_rural': 2, 'urban': 4, 'rural': 4}
    assert 'Test/ skipped: LoveDA publishes no test masks' in manifest['notes']
    assert (out / 'urban.txt').read_text().split() == ['0', '1', '4', '5']  # Train/Urban + Val/Urban
    assert (out / 'val_rural.txt').read_text().split() == ['6', '7']
    mask = _label(raw / 'Train' / 'Urban' / 'masks_png' / '0.png')
    ann = out / 'ann_dir' / '0.tif'
    np.testing.assert_array_equal(_ann(ann), np.where(mask == 0, 255, mask.astype(int) - 1))  # 0 = no data
    with rasterio.open(ann) as src:
        assert src.dtypes[0] == 'uint8' and src.nodata == 255
        assert [src.colormap(1)[i][:3] for i in range(7)] == [tuple(c) for c in LOVEDA_PALETTE]
    assert (out / 'img_dir' / '0.png').read_bytes() == (raw / 'Train' / 'Urban' / 'images_png' / '0.png').read_bytes()
    stats = json.loads((out / 'sample_class_stats.json').read_text())
    first = next(s for s in stats if s['file'] == 'ann_dir/0.tif')
    assert {int(k): v for k, v in first.items() if k != 'file'} == {c: int((mask == c + 1).sum()) for c in range(7)}
    with_class = json.loads((out / 'samples_with_class.json').read_text())
    assert sorted(with_class) == [str(c) for c in range(7)] and len(with_class['6']) == 8

    # the input is never written; a second run resumes (nothing redone), output inside the input is refused
    before = _digest(raw)
    again = convert_dataset(raw, out, dataset='loveda', progress=False)
    assert (again['converted'], again['skipped']) == (0, 8) and _digest(raw) == before
    with pytest.raises(DaspmInputError, match='inside the input'):
        convert_dataset(raw, raw / 'out', dataset='loveda', progress=False)

    # a bad mask names the file, the values and the fix
    bad = make_loveda(tmp_path / 'bad')
    broken = bad / 'Val' / 'Rural' / 'masks_png' / '7.png'
    _png(broken, np.full((64, 64), 9, np.uint8))
    with pytest.raises(DaspmInputError) as err:
        convert_dataset(bad, tmp_path / 'bad_converted', dataset='loveda', progress=False)
    assert str(broken) in str(err.value) and 'values 9 ' in str(err.value) and '--label-map' in str(err.value)


def test_whdld_conversion(converted, tmp_path):
    raw, out = converted / 'whdld', converted / 'whdld_converted'
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['image_suffix'] == '.jpg' and manifest['label_table']['name'] == 'whdld-to-loveda'
    # no split files: a seeded random split, every image in exactly one split
    splits = {s: (out / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')}
    assert [len(v) for v in splits.values()] == [7, 1, 2] and sorted(sum(splits.values(), [])) == \
        [f'wh_{k:02d}' for k in range(10)]
    assert 'random split (seed 0)' in manifest['notes'][0]
    codes = _label(raw / 'ImagesPNG' / 'wh_03.png')
    expected = np.vectorize(WHDLD_CODES.get)(codes)  # 1 building, 2 road, 3 pavement -> background, ...
    np.testing.assert_array_equal(_ann(out / 'ann_dir' / 'wh_03.tif'), expected)
    assert (WHDLD_CODES[4], WHDLD_CODES[5], WHDLD_CODES[6]) == (5, 4, 3)  # vegetation forest, bare soil barren

    bad = make_whdld(tmp_path / 'bad', n=3)
    (bad / 'ImagesPNG' / 'wh_01.png').unlink()
    with pytest.raises(DaspmInputError, match=r'images without a label in .*ImagesPNG: wh_01'):
        convert_dataset(bad, tmp_path / 'bad_converted', dataset='whdld', progress=False)
    assert not (tmp_path / 'bad_converted').exists()  # input errors come before any output


def test_utcd_conversion_and_the_tool(converted, tmp_path):
    out = converted / 'utcd_converted'
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['raw_layout']['images'] == 'image_spm' and manifest['label_table']['name'] == 'train-ids'
    # val.txt only (as the reference): test = val, train = the rest
    assert (out / 'val.txt').read_text().split() == ['ut_1', 'ut_4'] == (out / 'test.txt').read_text().split()
    assert (out / 'train.txt').read_text().split() == ['ut_0', 'ut_2', 'ut_3', 'ut_5']
    label = _label(converted / 'utcd' / 'label_spm' / 'ut_2.png')
    np.testing.assert_array_equal(_ann(out / 'ann_dir' / 'ut_2.tif'), label)  # already train ids

    # raw 10-class codes: one line naming the file, the reference's offset and the fix (the tool, as a user runs it)
    raw = make_utcd(tmp_path / 'raw10', n=2)
    (raw / 'val.txt').unlink()
    _png(raw / 'label_spm' / 'ut_1.png', np.full((48, 48), 9, np.uint8))
    proc = subprocess.run([sys.executable, 'tools/convert_datasets/utcd.py', str(raw)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    message = proc.stderr.strip().splitlines()[-1]  # after the progress bar
    assert proc.returncode == 2 and message.startswith('error: ') and 'Traceback' not in proc.stderr
    assert str(raw / 'label_spm' / 'ut_1.png') in message and 'global23k' in message and '--label-map' in message
    # the fix resumes the interrupted conversion: the table only gained a code
    proc = subprocess.run([sys.executable, 'tools/convert_datasets/utcd.py', str(raw), '--label-map', '9=5',
                           '--nproc', '2'], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '(1 converted, 1 already done)' in proc.stdout and 'configs/daspm/loveda2utcd_' in proc.stdout
    assert set(np.unique(_ann(tmp_path / 'raw10_converted' / 'ann_dir' / 'ut_1.tif'))) == {5}
    # resuming with another table would mix two tables
    with pytest.raises(DaspmInputError, match='resuming would mix two tables'):
        convert_dataset(raw, tmp_path / 'raw10_converted', dataset='utcd', progress=False, label_map={9: 6})


def test_split_completion():
    names = [f'n{i}' for i in range(10)]
    splits, notes = complete_splits(names, {'test': ['n0']}, val_ratio=0.1, test_ratio=0.2, seed=0)
    assert splits == {'train': names[1:], 'val': ['n0'], 'test': ['n0']} and len(notes) == 2
    first, _ = complete_splits(names, {}, val_ratio=0.1, test_ratio=0.2, seed=3)
    assert first == complete_splits(names, {}, val_ratio=0.1, test_ratio=0.2, seed=3)[0]  # deterministic
    with pytest.raises(DaspmInputError, match='sum below 1'):
        complete_splits(names, {}, val_ratio=0.5, test_ratio=0.5, seed=0)


# ------------------------------------------------------------------ datasets

def test_datasets_read_the_conversion(converted):
    from mmseg.registry import DATASETS

    pipeline = [dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, num_bands=3),
                dict(type='LoadGeoTiffAnnotations')]
    whdld = DATASETS.build(dict(type='WHDLDataset', data_root=str(converted / 'whdld_converted'),
                                ann_file='val.txt', pipeline=pipeline))
    sample = whdld[0]
    assert whdld.img_suffix == '.jpg' and sample['img'].shape == (32, 32, 3) and sample['img'].max() <= 1.0
    assert whdld.metainfo['classes'] == LOVEDA_CLASSES
    loveda = DATASETS.build(dict(type='LoveDAConvertedDataset', data_root=str(converted / 'loveda_converted'),
                                 ann_file='urban.txt', pipeline=pipeline))
    assert len(loveda) == 4 and set(np.unique(loveda[0]['gt_seg_map'])) <= set(range(7)) | {255}
    with pytest.raises(DaspmInputError, match=r'convert .*tools/convert_datasets/utcd.py'):
        DATASETS.build(dict(type='UTCDataset', data_root=str(converted / 'nothing'), pipeline=pipeline))


# ------------------------------------------------------------------ decoders and ImageNet weights

def test_decoders_fit_dacs():
    from mmseg.models.decode_heads import DAHead
    from mmseg.registry import MODELS

    feats = [torch.rand(2, c, 8, 8) for c in (8, 8, 8, 16)]
    dlv2 = MODELS.build(dict(type='DLV2Head', in_channels=16, in_index=3, dilations=(6, 12), num_classes=7))
    assert dlv2(feats).shape == (2, 7, 8, 8) and not hasattr(dlv2, 'conv_seg')
    assert all(m.conv.bias is not None and not m.with_norm and not m.with_activation for m in dlv2.aspp_modules)
    with pytest.raises(DaspmInputError, match='cannot be set'):
        MODELS.build(dict(type='DLV2Head', in_channels=16, channels=4, num_classes=7))

    cfg = dict(in_channels=16, in_index=3, channels=8, pam_channels=4, num_classes=7, dropout_ratio=0.0,
               norm_cfg=dict(type='BN'))
    torch.manual_seed(0)
    fused = MODELS.build(dict(type='DAHeadFusedLogits', **cfg)).eval()
    plain = DAHead(**cfg).eval()
    plain.load_state_dict(fused.state_dict())
    logits = fused(feats)  # one tensor, as DACS's pseudo-labels and mixed step read it
    assert torch.allclose(logits, plain(feats)[0])
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 7, (1, 32, 32)))) for _ in range(2)]
    losses = fused.train().loss(feats, samples, {})
    assert {'pam_cam.loss_ce', 'pam.loss_ce', 'cam.loss_ce'} <= set(losses)


def test_local_pretrained_weights(tmp_path):
    from mmseg.registry import MODELS

    backbone = dict(type='ResNetV1c', depth=18, out_indices=(3,), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                    contract_dilation=True)
    source = MODELS.build(backbone)
    state = {**source.state_dict(), 'fc.weight': torch.zeros(1000, 512)}  # an ImageNet file has a classifier
    torch.save({'state_dict': state}, tmp_path / 'resnet18_v1c.pth')

    def with_weights(checkpoint: str):
        return MODELS.build(dict(backbone, init_cfg=dict(type='LocalPretrained', checkpoint=checkpoint)))

    target = with_weights(str(tmp_path / 'resnet18_v1c.pth'))
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    missing = with_weights('pretrained/resnet18_v1c.pth')
    if not (REPO / 'pretrained' / 'resnet18_v1c.pth').is_file():
        with pytest.raises(DaspmInputError, match='download_checkpoints.sh resnet18_v1c'):
            missing.init_weights()
    url = with_weights('open-mmlab://resnet18_v1c')
    with pytest.raises(DaspmInputError, match='nothing is downloaded at run time'):
        url.init_weights()


# ------------------------------------------------------------------ configs

def _tiny(network: dict) -> dict:
    """The network with a ResNet-18 or a MiT-B0-sized encoder, thin heads, no ImageNet file."""
    backbone, head = network['backbone'], network['decode_head']
    backbone['init_cfg'] = None
    if backbone['type'] == 'ResNetV1c':
        backbone['depth'] = 18
        head['in_channels'] = 512
        head.update({k: 16 for k in ('channels', 'isa_channels', 'pam_channels') if k in head})
        head.update({'c1_in_channels': 64, 'c1_channels': 8} if 'c1_in_channels' in head else {})
    else:
        backbone.update(embed_dims=32, num_layers=[1, 1, 1, 1])
        head.update(in_channels=[32, 64, 160, 256], channels=32, embed_dims=32)
    return network


def _network(cfg) -> dict:
    return cfg.model.model if cfg.model.type == 'DACS' else cfg.model


@pytest.mark.parametrize('path', CONFIGS)
def test_config_resolves_and_builds(path):
    from mmseg.registry import MODELS

    cfg = load_config(REPO / path)
    target, crop = next((t, c) for t, c in FAMILIES.items() if f'loveda2{t}_' in path)
    net = _network(cfg)
    assert net.decode_head.num_classes == 7 and tuple(net.data_preprocessor.size) == (crop, crop)
    train = cfg.train_dataloader.dataset
    assert cfg.test_dataloader.dataset.data_root == f'data/{target}_converted'
    assert cfg.test_dataloader.dataset.ann_file == 'test.txt' and cfg.val_dataloader.dataset.ann_file == 'val.txt'
    assert cfg.train_cfg.max_iters == 40000
    if 'uda_' in path:
        assert cfg.model.type == 'DACS' and 'uda' not in cfg
        assert cfg.model.alpha == 0.999 and cfg.model.imnet_feature_dist_lambda == 0  # as the reference ran it
        assert tuple(cfg.model.pseudo_margins) == (0, 0, 0, 0) and cfg.model.clamp_jitter is True
        assert tuple(cfg.model.data_preprocessor.size) == (crop, crop)
        assert train.rare_class_sampling == dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)
        assert (train.source.type, train.source.ann_file) == ('LoveDAConvertedDataset', 'urban.txt')
        crops = [s['crop_size'] for p in (train.source.pipeline, train.target.pipeline) for s in p
                 if s['type'] == 'RandomCrop']
        cfg.model.model = _tiny(cfg.model.model)
    else:
        assert cfg.model.type == 'EncoderDecoder'
        expected = 'LoveDAConvertedDataset' if 'source-only' in path else \
            {'utcd': 'UTCDataset', 'whdld': 'WHDLDataset'}[target]
        assert train.type == expected
        crops = [s['crop_size'] for s in train.pipeline if s['type'] == 'RandomCrop']
        cfg.model = _tiny(cfg.model)
    assert crops and all(tuple(c) == (crop, crop) for c in crops)
    model = MODELS.build(cfg.model)
    assert _network(cfg).decode_head.type in type(getattr(model, 'model', model).decode_head).__name__


@pytest.mark.parametrize('decoder', DECODERS)
def test_full_size_networks_forward(decoder):
    """Every config of a decoder holds the same network; built at full size, it predicts the 7 classes."""
    from mmseg.registry import MODELS

    networks = [_network(load_config(REPO / p)) for p in CONFIGS if p.endswith(f'_{decoder}.py')]
    assert len(networks) == 6
    for net in networks:
        net.pop('data_preprocessor')
    assert all(net == networks[0] for net in networks)
    model = MODELS.build(dict(networks[0], data_preprocessor=dict(type='SegDataPreProcessor'))).eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape[:2] == (1, 7)


# ------------------------------------------------------------------ short UDA runs

def _tiny_run_options(data: Path, target: str, resnet_head: str) -> list[str]:
    """Point a UDA config at the tiny data: ResNet-18, 32 x 32 crops, 2 iterations, in-process loaders."""
    options = [f'train_dataloader.dataset.source.data_root={data}/loveda_converted',
               f'train_dataloader.dataset.target.data_root={data}/{target}_converted',
               f'val_dataloader.dataset.data_root={data}/{target}_converted',
               f'test_dataloader.dataset.data_root={data}/{target}_converted',
               'train_dataloader.dataset.rare_class_sampling.min_pixels=50',  # 64 x 64 tiles: ~500 px per class
               'train_dataloader.dataset.source.pipeline.2.scale=(64,64)',
               'train_dataloader.dataset.source.pipeline.3.crop_size=(32,32)',
               # the target pipeline: load, the nodata tracker, resize, crop, ...
               'train_dataloader.dataset.target.pipeline.2.scale=(64,64)',
               'train_dataloader.dataset.target.pipeline.3.crop_size=(32,32)',
               'val_dataloader.dataset.pipeline.1.scale=(64,64)', 'test_dataloader.dataset.pipeline.1.scale=(64,64)',
               'model.data_preprocessor.size=(32,32)', 'model.model.data_preprocessor.size=(32,32)',
               'model.model.backbone.depth=18', 'model.model.backbone.init_cfg=None',
               'model.model.decode_head.in_channels=512', 'model.model.decode_head.channels=16', resnet_head,
               'train_dataloader.batch_size=2', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1', 'custom_hooks.0.interval=2']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return options


@pytest.mark.parametrize('target, decoder, head_option', [
    ('utcd', 'daformer_dv2', 'model.model.decode_head.dilations=(6,12)'),
    ('whdld', 'daformer_danet', 'model.model.decode_head.pam_channels=8'),
])
def test_short_uda_run_and_test(converted, tmp_path, monkeypatch, target, decoder, head_option):
    from daspm.cli import test as cli_test
    from daspm.cli import train as cli_train

    monkeypatch.chdir(REPO)  # config paths are relative, as in the README
    config = f'configs/daspm/loveda2{target}_uda_warm_fdthings_rcs_croppl_a999_{decoder}.py'
    options = _tiny_run_options(converted, target, head_option)
    if decoder == 'daformer_dv2':  # DeepLabV2 has no intermediate channels
        options.remove('model.model.decode_head.channels=16')
    trained = call_cli_ok(cli_train.main, ['--config', config, '--work-root', str(tmp_path), '--exp-name', 'lf',
                                           '--cfg-options', *options])
    (run_dir,) = trained.value
    assert (run_dir / 'iter_2.pth').is_file() and (run_dir / 'debug' / 'iter_2.png').is_file()
    (scalars,) = run_dir.glob('*/vis_data/scalars.json')
    logged = [json.loads(line) for line in scalars.read_text().splitlines()]
    losses = [r for r in logged if 'loss' in r]
    assert [r['iter'] for r in losses] == [1, 2]
    for record in losses:
        assert np.isfinite(record['loss']) and np.isfinite(record['mix.decode.loss_ce'])
    if decoder == 'daformer_danet':  # DANet's auxiliary losses in the source step
        assert {'src.decode.pam.loss_ce', 'src.decode.cam.loss_ce'} <= set(losses[0])

    tested = call_cli_ok(cli_test.main, [str(run_dir)])  # what `sh test.sh RUN_DIR` runs
    report = json.loads((run_dir / 'metrics.json').read_text())
    assert report['iteration'] == 2 and 0.0 <= report['metrics']['mIoU'] <= 100.0
    assert all(f'IoU.{name}' in report['metrics'] for name in LOVEDA_CLASSES) and 'agricultural' in tested.stdout
    test_names = (converted / f'{target}_converted' / 'test.txt').read_text().split()
    assert sorted(p.stem for p in (run_dir / 'preds').glob('*.png')) == sorted(test_names)
