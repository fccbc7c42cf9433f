import pytest
import torch

from babysit.data import BatchAugment, InMemoryDataModule
from babysit.data.augment import random_crop
from babysit.data.sources import Images, digits, faces
from babysit.errors import BabysitError

SPLIT = {"train": 0.6, "val": 0.2, "test": 0.2}


def make_dm(source=faces, **kw):
    args = dict(source=source, name="t", num_classes=2, channels=1, image_size=25, batch_size=16, split=SPLIT)
    args.update(kw)
    dm = InMemoryDataModule(**args)
    dm.setup()
    return dm


def test_split_is_stratified_60_20_20_and_disjoint():
    dm = make_dm()
    assert dm.sizes() == {"train": 120, "val": 40, "test": 40}
    for _, y in dm.splits.values():
        assert torch.bincount(y).tolist()[0] == len(y) // 2
    flat = [x.flatten(1) for x, _ in dm.splits.values()]
    assert torch.cdist(flat[0], flat[1]).min() > 0  # no train image in val


def test_split_depends_on_split_seed_only():
    a, b, c = make_dm(split_seed=0), make_dm(split_seed=0), make_dm(split_seed=1)
    assert torch.equal(a.splits["val"][0], b.splits["val"][0])
    assert not torch.equal(a.splits["val"][0], c.splits["val"][0])


def test_normalisation_uses_train_statistics_only():
    dm = make_dm()
    x = dm.prepare_batch(dm.splits["train"][0], train=False)
    assert x.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert x.std().item() == pytest.approx(1.0, abs=1e-3)
    val = dm.prepare_batch(dm.splits["val"][0], train=False)
    assert abs(val.mean().item()) > 1e-4  # val is shifted by train stats, not its own


def test_mean_only_and_none_modes():
    x = make_dm(normalize="mean").prepare_batch(faces().x, train=False)
    assert x.mean().item() == pytest.approx(0.0, abs=0.05) and x.std().item() < 0.5
    raw = faces().x
    assert torch.equal(make_dm(normalize="none").prepare_batch(raw, train=False), raw)


def test_resizes_to_the_configured_size():
    assert make_dm(image_size=32).splits["train"][0].shape[1:] == (1, 32, 32)


def test_batches_cover_every_sample_once_per_epoch():
    dm = make_dm()
    ys = torch.cat([y for _, y in dm.train_dataloader()])
    assert len(ys) == 120 and len(dm.train_dataloader()) == 8
    xs = torch.cat([x for x, _ in dm.train_dataloader()])
    assert torch.equal(xs.sum(0), dm.splits["train"][0].sum(0)) or torch.allclose(
        xs.sum(0), dm.splits["train"][0].sum(0), atol=1e-4)


def test_ranks_see_disjoint_shards():
    from babysit.data.batches import TensorBatches

    x = torch.arange(10).float().view(10, 1)
    torch.manual_seed(0)
    a = torch.cat([b for b, _ in TensorBatches(x, x, 3, shuffle=True, rank=0, world_size=2)])
    torch.manual_seed(0)
    b = torch.cat([b for b, _ in TensorBatches(x, x, 3, shuffle=True, rank=1, world_size=2)])
    assert len(a) == len(b) == 5 and not set(a.flatten().tolist()) & set(b.flatten().tolist())


def test_wrong_number_of_classes_is_reported():
    with pytest.raises(BabysitError, match="data.num_classes=3 but .* has 2 classes"):
        make_dm(num_classes=3)


def test_nan_in_the_data_is_reported():
    def poisoned():
        images = digits()
        images.x[5, 0, 2, 2] = float("nan")
        return images

    with pytest.raises(BabysitError, match="NaN/inf values in 1 image.*index 5"):
        make_dm(source=poisoned, num_classes=10, image_size=8)


def test_augmentation_draws_per_sample():
    torch.manual_seed(0)
    same = torch.rand(1, 1, 16, 16).repeat(8, 1, 1, 1)
    out = BatchAugment(crop_pad=2, hflip=True, degrees=10, translate=0.05, scale=(0.9, 1.1))(same)
    assert out.shape == same.shape
    distinct = {tuple(o.flatten().round(decimals=4).tolist()) for o in out}
    assert len(distinct) == 8  # every image got its own crop / flip / warp


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    torch.manual_seed(1)
    x = torch.rand(4, 3, 10, 10)
    out = random_crop(x, 2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(4):
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 10, dx:dx + 10])
                   for dy in range(5) for dx in range(5))


def test_colour_jitter_only_touches_colour_images():
    grey = torch.rand(4, 1, 8, 8)
    assert torch.equal(BatchAugment(brightness=0.5, contrast=0.5)(grey), grey)
    colour = torch.rand(4, 3, 8, 8)
    assert not torch.equal(BatchAugment(brightness=0.5)(colour), colour)


def test_augmentation_only_on_training_batches():
    dm = make_dm(augment=BatchAugment(crop_pad=3))
    x = dm.splits["train"][0][:8]
    assert torch.equal(dm.prepare_batch(x, train=False), dm.prepare_batch(x, train=False))
    assert not torch.equal(dm.prepare_batch(x, train=True), dm.prepare_batch(x, train=False))


def test_flip_is_switched_off_where_the_data_forbids_it():
    dm = make_dm(source=digits, num_classes=10, image_size=8, augment=BatchAugment(hflip=True, crop_pad=1),
                 hflip_ok=False)
    assert dm.augment.hflip is False


def test_fixed_test_sets_are_kept_and_val_is_carved_from_train():
    def with_test():
        d = digits()
        return Images(d.x[:1000], d.y[:1000], d.classes, "t", test=(d.x[1000:], d.y[1000:]))

    dm = make_dm(source=with_test, num_classes=10, image_size=8)
    assert dm.sizes() == {"train": 750, "val": 250, "test": 797}


def _photos(n_groups: int = 30, per_group: int = 4) -> Images:
    """Patches cut from photos: each sample's first pixel holds its photo id."""
    groups = torch.arange(n_groups).repeat_interleave(per_group)
    y = torch.arange(n_groups * per_group) % 2
    x = torch.rand(len(y), 1, 8, 8)
    x[:, 0, 0, 0] = groups.float()
    return Images(x, y, ["nonface", "face"], "photos", groups={"train": groups})


def _photo_ids(part) -> set[int]:
    return set(part[0][:, 0, 0, 0].long().tolist())


def test_patches_of_one_photo_stay_on_one_side_of_every_split():
    dm = make_dm(source=_photos, normalize="none", image_size=8)
    train, val, test = (_photo_ids(dm.splits[k]) for k in ("train", "val", "test"))
    assert not train & val and not train & test and not val & test
    assert len(train | val | test) == 30
    for k in range(3):
        fold = make_dm(source=_photos, normalize="none", image_size=8, cv_fold=k, cv_folds=3)
        assert not _photo_ids(fold.splits["train"]) & _photo_ids(fold.splits["val"])
        assert _photo_ids(fold.splits["test"]) == test
