#!/usr/bin/python3
"""The validation loss of count-based n-gram models on a prepare_text file: the floor a
language model should beat.

Interpolated Witten-Bell n-grams over the token ids (bytes with the byte tokenizer):
P_k(w | h) = (c(h w) + u(h) P_(k-1)(w | h')) / (c(h) + u(h)), where h is the k tokens
before w, h' the last k - 1 of them and u(h) the number of distinct tokens seen after h;
P_0 is add-one over the vocabulary. Counts come from the training split; the score is the
mean negative log-likelihood in nats per token of validation tokens 1 .. n-1 of the first
n, each with its full preceding context (a model scores within its context windows).
    /usr/bin/python3 bench/ngram_baseline.py --data data/brown.h5 [--limit-test 100000]
        [--max-order 7]
"""
import argparse
import math
import sys

import h5py
import numpy as np


def context_keys(tokens, k, vocab):
    """For every position i >= k: the k tokens before i as one integer (base vocab)."""
    key = np.zeros(len(tokens) - k, dtype=np.int64)
    for j in range(k):
        key = key * vocab + tokens[j:len(tokens) - k + j]
    return key


def lookup(sorted_keys, counts, queries):
    """counts[i] where sorted_keys[i] == query, else 0."""
    at = np.searchsorted(sorted_keys, queries)
    at = np.minimum(at, len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == queries, counts[at], 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit-test", type=int, default=100000,
                    help="validation tokens scored (0: the whole split)")
    ap.add_argument("--max-order", type=int, default=7, help="the longest n-gram (context + 1)")
    args = ap.parse_args()
    try:
        with h5py.File(args.data, "r") as f:
            vocab = int(f.attrs["vocab_size"])
            train = f["train/tokens"][...].astype(np.int64)
            val = f["val/tokens"][...].astype(np.int64)
    except (OSError, KeyError) as e:
        sys.exit(f"ngram_baseline: --data {args.data}: not a prepare_text file ({e})")
    if args.limit_test:
        val = val[:args.limit_test]
    if vocab ** args.max_order >= 2 ** 63:
        sys.exit(f"ngram_baseline: --max-order {args.max_order}: vocab {vocab} to that power "
                 "overflows a 64-bit key")
    targets = val[1:]  # predicted tokens; position i of targets is val[i + 1]
    # P_0: add-one unigram.
    unigram = np.bincount(train, minlength=vocab).astype(np.float64)
    p = (unigram[targets] + 1.0) / (len(train) + vocab)
    print(f"| order | validation loss (nats/token) |\n|---|---|\n| 1 | {-np.log(p).mean():.4f} |")
    best = (1, -np.log(p).mean())
    for k in range(1, args.max_order):
        # Training n-grams (k context tokens + the next one) and their contexts' counts.
        ctx = context_keys(train, k, vocab)            # contexts of train[k:]
        grams = ctx * vocab + train[k:]
        gram_keys, gram_counts = np.unique(grams, return_counts=True)
        ctx_keys, ctx_counts = np.unique(ctx, return_counts=True)
        followers_keys, followers = np.unique(gram_keys // vocab, return_counts=True)
        # Validation: the k tokens before each target (targets with fewer keep P_(k-1)).
        vctx = context_keys(val, k, vocab)             # contexts of val[k:]
        c_hw = lookup(gram_keys, gram_counts, vctx * vocab + val[k:]).astype(np.float64)
        c_h = lookup(ctx_keys, ctx_counts, vctx).astype(np.float64)
        u_h = lookup(followers_keys, followers, vctx).astype(np.float64)
        lower = p[k - 1:]
        mixed = np.where(c_h > 0, (c_hw + u_h * lower) / np.maximum(c_h + u_h, 1.0), lower)
        p = np.concatenate([p[:k - 1], mixed])
        loss = -np.log(p).mean()
        print(f"| {k + 1} | {loss:.4f} |", flush=True)
        if loss < best[1]:
            best = (k + 1, loss)
    print(f"\nbest: order {best[0]}, {best[1]:.4f} nats/token ({best[1] / math.log(2):.3f} bits) "
          f"on {len(targets)} validation tokens; vocabulary {vocab}, {len(train)} training tokens")


if __name__ == "__main__":
    main()
