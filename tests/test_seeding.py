"""Tests of kexue_book.data.seeding (chapter 24). Worker tests use the fork start method."""

from __future__ import annotations

import multiprocessing as mp
import random
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from kexue_book.data.seeding import ShardedIterable, reseed_generators, sample_generator, seed_worker


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")


class Noisy(Dataset):
    def __init__(self, n=8):
        self.n = n
        self.rng = np.random.default_rng(0)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.tensor([i, int(self.rng.integers(1 << 30))])


class PerSample(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([i, int(sample_generator(7, i).integers(1 << 30))])


def loader(ds, init=None, workers=2, **kw):
    return DataLoader(ds, batch_size=1, num_workers=workers, worker_init_fn=init,
                      multiprocessing_context="fork" if workers else None,
                      generator=torch.Generator().manual_seed(0), **kw)


def draws(dl):
    rows = torch.cat(list(dl)).tolist()
    return {i: v for i, v in rows}


@fork
def test_generator_duplicated_without_fix_and_distinct_with_seed_worker():
    bad = draws(loader(Noisy()))
    # batches alternate between the two workers: items 2j and 2j+1 come from workers 0 and 1
    assert all(bad[2 * j] == bad[2 * j + 1] for j in range(4))
    good = draws(loader(Noisy(), seed_worker))
    assert len(set(good.values())) == 8
    assert good == draws(loader(Noisy(), seed_worker))     # reproducible


@fork
def test_per_sample_generators_do_not_depend_on_workers():
    assert draws(loader(PerSample())) == draws(loader(PerSample(), workers=0))
    assert len(set(draws(loader(PerSample())).values())) == 8


@fork
def test_sharded_iterable_each_item_once_naive_twice():
    class Naive(IterableDataset):
        def __iter__(self):
            return iter(range(10))

    naive = Counter(int(x) for x in DataLoader(Naive(), batch_size=None, num_workers=2,
                                               multiprocessing_context="fork"))
    assert set(naive.values()) == {2}
    sharded = Counter(int(x) for x in DataLoader(ShardedIterable(lambda: range(10)), batch_size=None,
                                                 num_workers=2, multiprocessing_context="fork"))
    assert sharded == Counter(range(10))
    assert list(ShardedIterable(lambda: range(5))) == list(range(5))   # main process


def test_reseed_generators_all_types_and_distinct():
    class D:
        def __init__(self):
            self.a = np.random.default_rng(0)
            self.b = np.random.default_rng(0)
            self.c = np.random.RandomState(0)
            self.d = random.Random(0)
            self.e = torch.Generator().manual_seed(0)
            self.x = 3

    d1, d2 = D(), D()
    assert reseed_generators(d1, 5) == ["a", "b", "c", "d", "e"]
    reseed_generators(d2, 5)
    assert d1.a.integers(1 << 30) == d2.a.integers(1 << 30)
    assert d1.a.integers(1 << 30) != d1.b.integers(1 << 30)
    assert d1.c.randint(1 << 30) == d2.c.randint(1 << 30)
    assert d1.d.random() == d2.d.random()
    assert torch.equal(torch.rand(3, generator=d1.e), torch.rand(3, generator=d2.e))
    assert reseed_generators(d1, 6) and d1.a.integers(1 << 30) != d2.a.integers(1 << 30)
    assert reseed_generators(3, 1) == []


def test_sample_generator_keys():
    a = sample_generator(1, 2, 3).random()
    assert a == sample_generator(1, 2, 3).random()
    assert a != sample_generator(1, 2, 4).random() != sample_generator(1, 3, 3).random()


def test_bad_inputs():
    with pytest.raises(RuntimeError, match="inside a DataLoader worker"):
        seed_worker(0)
    with pytest.raises(TypeError, match="callable"):
        ShardedIterable(range(3))
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="seed"):
            reseed_generators(object(), bad)
        with pytest.raises(ValueError, match="seed"):
            sample_generator(bad, 0)
    with pytest.raises(ValueError, match="index"):
        sample_generator(0, -1)
    with pytest.raises(ValueError, match="epoch"):
        sample_generator(0, 1, epoch=-2)
