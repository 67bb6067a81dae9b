"""Exact and near-duplicate images, within and across splits, and which copy the manifest keeps.

Exact duplicates share a hash of their decoded pixels (so a re-saved copy with different JPEG bytes but
identical pixels still counts). Near duplicates are pairs whose 64-bit DCT perceptual hashes differ in
at most ``near_duplicate_bits`` bits: robust to re-compression, small brightness shifts and resizes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

# Which copy survives a cross-split leak: test is the canonical benchmark, then validation.
SPLIT_PRIORITY = {"test": 0, "validation": 1, "train": 2}
BLOCK = 512  # rows per block of the all-pairs Hamming search: BLOCK x N uint64 stays ~100 MB at N = 25k


@dataclass(frozen=True)
class Pair:
    """Two images (indices into the scan) and their perceptual-hash Hamming distance."""

    a: int
    b: int
    distance: int
    exact: bool


def pixel_digest(image: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II basis, so a batch of images transforms with two matrix products."""
    k = np.arange(n)[:, None]
    basis = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


def phash(pixels: np.ndarray) -> np.ndarray:
    """64-bit pHash per image: sign of the 8x8 lowest DCT frequencies of a 32x32 copy against their median."""
    small = np.stack([cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA) for image in pixels]).astype(np.float32)
    basis = dct_matrix(32).astype(np.float32)
    low = (basis @ small @ basis.T)[:, :8, :8].reshape(len(pixels), 64)
    median = np.median(low[:, 1:], axis=1, keepdims=True)  # the DC term only says how bright the image is
    bits = (low > median).astype(np.uint64)
    return (bits << np.arange(64, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def near_pairs(hashes: np.ndarray, max_bits: int) -> list[tuple[int, int, int]]:
    """All pairs (i < j) within ``max_bits``: blockwise XOR + popcount over the upper triangle."""
    found = []
    n = len(hashes)
    for start in tqdm(range(0, n, BLOCK), desc="near-duplicates", unit="block", mininterval=1.0, disable=None):
        rows = hashes[start : start + BLOCK]
        distance = np.bitwise_count(rows[:, None] ^ hashes[None, start:])
        i, j = np.nonzero(distance <= max_bits)
        keep = j > i  # the block's own square holds each pair twice plus the diagonal
        for a, b in zip(i[keep], j[keep]):
            found.append((start + int(a), start + int(b), int(distance[a, b])))
    return found


def find_pairs(pixels: np.ndarray, candidates: np.ndarray, max_bits: int) -> list[Pair]:
    """Exact and near-duplicate pairs among ``candidates`` (indices of readable, non-blank images)."""
    if len(candidates) < 2:
        return []
    digests = [pixel_digest(pixels[i]) for i in candidates]
    hashes = phash(pixels[candidates])
    pairs = {}
    for a, b, distance in near_pairs(hashes, max_bits):
        pairs[(a, b)] = Pair(int(candidates[a]), int(candidates[b]), distance, digests[a] == digests[b])
    by_digest = defaultdict(list)
    for position, digest in enumerate(digests):
        by_digest[digest].append(position)
    for members in by_digest.values():  # identical pixels always share a pHash; this is a safety net
        for a, b in zip(members, members[1:]):
            pairs.setdefault((a, b), Pair(int(candidates[a]), int(candidates[b]), 0, True))
    return sorted(pairs.values(), key=lambda p: (p.a, p.b))


def groups_of(pairs: list[Pair]) -> list[list[int]]:
    """Connected components of the duplicate graph (union-find), each sorted, largest first."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        parent[root(pair.a)] = root(pair.b)
    components = defaultdict(list)
    for node in list(parent):
        components[root(node)].append(node)
    return sorted((sorted(c) for c in components.values()), key=lambda c: (-len(c), c[0]))


def resolve(groups: list[list[int]], splits: list[str], flawed: set[int]) -> dict[int, tuple[str, int]]:
    """Which files to drop, why ('leak' or 'duplicate') and which kept file they copy.

    The canonical split is the most protected one present (test, then validation, then train), so a
    leak never removes a test image. Inside test, copies are reported but never dropped: the test split
    stays the benchmark that published FER2013 numbers refer to. The kept copy is one without other
    problems (``flawed``: wrong format, ...) where possible.
    """
    drop = {}
    for group in groups:
        canonical = min((splits[i] for i in group), key=SPLIT_PRIORITY.__getitem__)
        keeper = min((i for i in group if splits[i] == canonical), key=lambda i: (i in flawed, i))
        for index in group:
            if splits[index] != canonical:
                drop[index] = ("leak", keeper)
            elif index != keeper and canonical != "test":
                drop[index] = ("duplicate", keeper)
    return drop
