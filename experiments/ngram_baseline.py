#!/usr/bin/python3
"""A count-based n-gram language model on a token file (prepare_text), as the baseline a
trained GPT must beat: interpolated Kneser-Ney (absolute discount 0.75, continuation
counts for the lower orders) of order 1 to N, fitted on the training split and scored
per token on the validation split, like train_gpt --eval-only (every token after the
first, loss in nats per token, perplexity, bits per byte).
    /usr/bin/python3 experiments/ngram_baseline.py --data data/brown.h5 --orders 1 2 3 4 5
Needs python3-h5py and numpy (scripts/install-deps.sh --reference).
"""
import argparse
import collections
import json
import math

import h5py
import numpy as np

DISCOUNT = 0.75


class KneserNey:
    def __init__(self, tokens, order, vocab):
        self.order, self.vocab = order, vocab
        # counts[n][context][next]: highest order from raw counts, lower orders from the
        # number of distinct left extensions (Kneser-Ney's continuation counts).
        seq = tokens.tolist()
        self.counts = [collections.defaultdict(collections.Counter) for _ in range(order + 1)]
        grams = collections.Counter(tuple(seq[i:i + order]) for i in range(len(seq) - order + 1))
        for g, c in grams.items():
            self.counts[order][g[:-1]][g[-1]] += c
        for n in range(order, 1, -1):  # continuation counts of the (n-1)-grams
            for ctx, nxt in self.counts[n].items():
                for w in nxt:
                    self.counts[n - 1][ctx[1:]][w] += 1
        self.totals = [{ctx: (sum(c.values()), len(c)) for ctx, c in level.items()}
                       for level in self.counts]

    def prob(self, context, w):
        p = 1.0 / self.vocab
        for n in range(1, self.order + 1):
            ctx = tuple(context[len(context) - (n - 1):]) if n > 1 else ()
            if len(ctx) != n - 1 or ctx not in self.totals[n]:
                continue
            total, distinct = self.totals[n][ctx]
            c = self.counts[n][ctx].get(w, 0)
            p = max(c - DISCOUNT, 0) / total + DISCOUNT * distinct / total * p
        return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--split", default="val", choices=["val", "test"])
    args = ap.parse_args()
    with h5py.File(args.data, "r") as f:
        vocab = int(f.attrs["vocab_size"])
        train = f["train/tokens"][...].astype(np.int64)
        held = f[f"{args.split}/tokens"][...].astype(np.int64)
        nbytes = int(f[args.split].attrs["bytes"])
    seq = held.tolist()
    for order in args.orders:
        model = KneserNey(train, order, vocab)
        nats = -sum(math.log(model.prob(seq[max(0, i - order + 1):i], seq[i]))
                    for i in range(1, len(seq)))
        predicted = len(seq) - 1
        loss = nats / predicted
        print(json.dumps({"order": order, f"{args.split}_loss": loss,
                          f"{args.split}_perplexity": math.exp(loss),
                          f"{args.split}_bits_per_byte":
                              nats / math.log(2) / (nbytes * predicted / len(seq))}), flush=True)


if __name__ == "__main__":
    main()
