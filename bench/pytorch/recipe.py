"""What the PyTorch peers (vit_ref.py, gpt_ref.py) share with each other and with our
trainer: the recipe's flags, initialisation, AdamW with weight decay on matrices only,
warm-up plus cosine learning rate, clipping, and one optimisation step."""
import math
import resource

import torch
import torch.nn as nn


def add_recipe_args(ap, models, acts, default_model):
    """The flags of train/recipe.h that the peers take, with the same defaults."""
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=default_model, choices=models)
    ap.add_argument("--act", default="gelu", choices=acts)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--benchmark-steps", type=int, default=0)
    ap.add_argument("--out", default="")


def trunc_normal(t, std=0.02):
    # Cut at +-2 std, as ours does (timm's default cuts at +-2 absolute).
    nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


def lr_at(step, base, min_lr, warmup, total):
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * progress))


def make_step(model, args, total, loss_fn):
    """AdamW as ours (decay on weight matrices only); returns step(step, batch) -> loss,
    where loss_fn(model, batch) gives the mean loss of the batch."""
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.ndim >= 2)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)

    def step(s, batch):
        for g in opt.param_groups:
            g["lr"] = lr_at(s, args.lr, args.min_lr, min(args.warmup, total), total)
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        return loss.item()
    return step


def peak_rss_mb():
    """This process's peak resident set: VmHWM (Linux keeps getrusage's ru_maxrss across
    execve, so a program started by a large process would report that process's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
