"""PyTorch reference for `npm run bench`: the benchmark CLIP training step (DESIGN.md, "the small CLIP").

Images 28x28x1, patch 4 (49 patches + class token), width 128, 4 pre-LN layers, 4 heads, MLP 512, QuickGELU;
text context 16, vocab 1000, width 128, 4 causal layers, pooled at the first end-of-text id (2); embed dim 128;
batch 64; torch.optim.Adam(lr=1e-4); symmetric InfoNCE with logit scale ln(1/0.07) (Radford et al. 2021, sec. 2.5).
The batch is the one bench/run.ts builds (same linear congruential generator), so the first losses are comparable
in size (initialisations differ).

Run as DESIGN.md says: Debian's python3-torch with OPENBLAS_NUM_THREADS=1 and 2 torch threads:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/clip_step.py --threads 2 --warmup 2 --steps 10

Prints one JSON object: {"torch": version, "threads": n, "ms": [per-step wall ms], "cpu_ms": [per-step process CPU
ms, all threads], "losses": [...]} (ms and cpu_ms for the timed steps, losses for all).
"""
import argparse
import json
import math
import time

import torch
from torch import nn

BATCH, CONTEXT, VOCAB, EOT = 64, 16, 1000, 2
WIDTH, LAYERS, HEADS, MLP, EMBED = 128, 4, 4, 512, 128
IMAGE, PATCH = 28, 4


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), the GELU approximation of the OpenAI CLIP models."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(WIDTH)
        self.attn = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
        self.ln_2 = nn.LayerNorm(WIDTH)
        self.mlp = nn.Sequential(nn.Linear(WIDTH, MLP), QuickGELU(), nn.Linear(MLP, WIDTH))

    def forward(self, x, mask=None):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class SmallClip(nn.Module):
    """The benchmark CLIP: ViT image tower and causal text tower, projected to EMBED dimensions."""

    def __init__(self):
        super().__init__()
        tokens = (IMAGE // PATCH) ** 2 + 1
        self.patch = nn.Conv2d(1, WIDTH, PATCH, PATCH, bias=False)
        self.cls = nn.Parameter(torch.randn(WIDTH) * WIDTH ** -0.5)
        self.vpos = nn.Parameter(torch.randn(tokens, WIDTH) * WIDTH ** -0.5)
        self.ln_pre = nn.LayerNorm(WIDTH)
        self.vblocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_post = nn.LayerNorm(WIDTH)
        self.vproj = nn.Parameter(torch.randn(WIDTH, EMBED) * WIDTH ** -0.5)
        self.tok = nn.Embedding(VOCAB, WIDTH)
        self.tpos = nn.Parameter(torch.randn(CONTEXT, WIDTH) * 0.01)
        self.tblocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_final = nn.LayerNorm(WIDTH)
        self.tproj = nn.Parameter(torch.randn(WIDTH, EMBED) * WIDTH ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.register_buffer('causal', torch.full((CONTEXT, CONTEXT), float('-inf')).triu(1))

    def encode_image(self, images):
        x = self.patch(images).flatten(2).transpose(1, 2)  # [B, 49, W]
        x = torch.cat([self.cls.expand(x.shape[0], 1, WIDTH), x], dim=1) + self.vpos
        x = self.ln_pre(x)
        for block in self.vblocks:
            x = block(x)
        return self.ln_post(x[:, 0]) @ self.vproj

    def encode_text(self, ids):
        x = self.tok(ids) + self.tpos
        for block in self.tblocks:
            x = block(x, self.causal)
        x = self.ln_final(x)
        eot = (ids == EOT).int().argmax(dim=1)  # first end-of-text position
        return x[torch.arange(x.shape[0]), eot] @ self.tproj

    def loss(self, images, ids):
        img = nn.functional.normalize(self.encode_image(images), dim=-1)
        txt = nn.functional.normalize(self.encode_text(ids), dim=-1)
        logits = self.logit_scale.exp() * img @ txt.t()
        target = torch.arange(logits.shape[0])
        return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.t(), target)) / 2


def make_batch():
    """The batch of bench/run.ts makeBatch: ids draw first (row by row), then the pixels, from one LCG."""
    s = 12345

    def rnd():
        nonlocal s
        s = (s * 1103515245 + 12345) % 2147483648
        return s / 2147483648

    ids = torch.zeros(BATCH, CONTEXT, dtype=torch.long)
    for r in range(BATCH):
        eot_at = 1 + math.floor(rnd() * (CONTEXT - 1))
        for j in range(eot_at):
            ids[r, j] = 3 + math.floor(rnd() * 997)
        ids[r, eot_at] = EOT
    pixels = torch.tensor([rnd() for _ in range(BATCH * IMAGE * IMAGE)], dtype=torch.float32)
    return pixels.view(BATCH, 1, IMAGE, IMAGE), ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--steps', type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SmallClip()
    images, ids = make_batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ms, cpu_ms, losses = [], [], []
    for i in range(args.warmup + args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(images, ids)
        loss.backward()
        opt.step()
        value = loss.item()
        if i >= args.warmup:
            ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
        losses.append(value)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': ms, 'cpu_ms': cpu_ms, 'losses': losses}))


if __name__ == '__main__':
    main()
