"""PyTorch reference of the LM benchmark (bench/lm.ts): a LLaMA in plain torch, serving bench/lm-protocol.ts.

The model is llama2.c's model.py (Touvron et al. 2023) with a KV cache as in Meta's llama/model.py: token embedding
(tied to the output projection), pre-norm blocks of RMSNorm, grouped-query attention under interleaved rotary
embeddings (query head h reads key/value head h // (H / KV)) and a SwiGLU feed-forward, a final RMSNorm, and the
output projection. Initialised as llama2.c does: N(0, 0.02), wo and w3 N(0, 0.02 / sqrt(2 layers)).

It reads one JSON request per line on stdin and answers one JSON line on stdout (bench/lm-protocol.ts):
`setup` (build the model for a training or generation task, run the warm-up steps), `run` (timed steps), `exit`.
The thread settings are the process's: torch threads from `--threads`, OpenBLAS's from the environment:

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/lm_step.py --threads 1 < requests.jsonl

`--check tests/fixtures/llama-tiny` instead loads that golden's weights and checks this model's logits and greedy ids
(with and without the cache) against llama2.c's (bench/lm.ts runs it before measuring).

Debian's python3-torch (1.13) runs each matmul in OpenBLAS, so OPENBLAS_NUM_THREADS sets its GEMM threads.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

BATCH_SEED, PROMPT_SEED = 12345, 777  # bench/lm-protocol.ts


def lcg_tokens(count, vocab_size, seed):
    """bench/lm-protocol.ts lcgTokens: Park-Miller s = 48271 s mod 2^31 - 1, id = floor(s / m * vocab_size)."""
    m, s, out = 2147483647, seed, []
    for _ in range(count):
        s = (s * 48271) % m
        out.append(math.floor(s / m * vocab_size))
    return out


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight over the last dimension."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, max_seq_len, theta):
    """cos and sin [max_seq_len, head_dim / 2] of position p and pair i: angle p * theta^(-2i / head_dim)."""
    freqs = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(max_seq_len).float(), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotates the interleaved pairs (x0, x1), (x2, x3), ... of x [B, T, heads, head_dim] by cos, sin [T, head_dim / 2]."""
    x0, x1 = x.float().reshape(*x.shape[:-1], -1, 2).unbind(-1)
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(3)


class Attention(nn.Module):
    """Causal grouped-query self-attention; with a cache, keys and values of earlier positions are kept per layer."""

    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c['numHeads'], c['numKvHeads']
        self.head_dim = c['dim'] // self.heads
        self.wq = nn.Linear(c['dim'], self.heads * self.head_dim, bias=False)
        self.wk = nn.Linear(c['dim'], self.kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(c['dim'], self.kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(self.heads * self.head_dim, c['dim'], bias=False)
        self.cache_k = self.cache_v = None

    def forward(self, x, cos, sin, start, use_cache):
        b, t, _ = x.shape
        q = apply_rope(self.wq(x).view(b, t, self.heads, self.head_dim), cos, sin)
        k = apply_rope(self.wk(x).view(b, t, self.kv_heads, self.head_dim), cos, sin)
        v = self.wv(x).view(b, t, self.kv_heads, self.head_dim)
        if use_cache:  # Meta's llama: write this step's keys and values, attend over everything so far
            self.cache_k[:b, start:start + t] = k
            self.cache_v[:b, start:start + t] = v
            k, v = self.cache_k[:b, :start + t], self.cache_v[:b, :start + t]
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=2).transpose(1, 2)  # [B, H, S, d]
        v = v.repeat_interleave(groups, dim=2).transpose(1, 2)
        q = q.transpose(1, 2)  # [B, H, T, d]
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim)
        if t > 1:  # causal: new position i sees keys 0 .. start + i
            s = k.shape[2]
            scores = scores + torch.full((t, s), float('-inf')).triu(start + 1)
        out = F.softmax(scores.float(), dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, c):
        super().__init__()
        self.w1 = nn.Linear(c['dim'], c['hiddenDim'], bias=False)
        self.w2 = nn.Linear(c['hiddenDim'], c['dim'], bias=False)
        self.w3 = nn.Linear(c['dim'], c['hiddenDim'], bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    """Pre-norm block: h = x + attention(attention_norm(x)), then h + feed_forward(ffn_norm(h))."""

    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.feed_forward = FeedForward(c)
        self.attention_norm = RMSNorm(c['dim'], c['normEps'])
        self.ffn_norm = RMSNorm(c['dim'], c['normEps'])

    def forward(self, x, cos, sin, start, use_cache):
        h = x + self.attention(self.attention_norm(x), cos, sin, start, use_cache)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(nn.Module):
    """llama2.c's Transformer: tok_embeddings, layers, norm, output (tied to tok_embeddings)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c['vocabSize'], c['dim'])
        self.layers = nn.ModuleList(Block(c) for _ in range(c['layers']))
        self.norm = RMSNorm(c['dim'], c['normEps'])
        self.output = nn.Linear(c['dim'], c['vocabSize'], bias=False)
        self.output.weight = self.tok_embeddings.weight
        cos, sin = rope_tables(c['dim'] // c['numHeads'], c['maxSeqLen'], c['ropeTheta'])
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c['layers']) if name.endswith(('wo.weight', 'w3.weight')) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids, start=0, use_cache=False):
        """Logits float32 [B, T, V] of ids int64 [B, T] at positions start .. start + T - 1."""
        t = ids.shape[1]
        cos, sin = self.cos[start:start + t], self.sin[start:start + t]
        h = self.tok_embeddings(ids)
        for layer in self.layers:
            h = layer(h, cos, sin, start, use_cache)
        return self.output(self.norm(h))

    def reset_cache(self, batch):
        """Empty [batch, maxSeqLen, KV, head_dim] key and value caches in every layer."""
        for layer in self.layers:
            a = layer.attention
            shape = (batch, self.c['maxSeqLen'], a.kv_heads, a.head_dim)
            a.cache_k, a.cache_v = torch.zeros(shape), torch.zeros(shape)


def greedy(model, prompts, new_tokens, use_cache):
    """Greedy decoding of prompts int64 [B, P]: with the cache, the prompt once and then one token per step; without
    it, the whole sequence every step. The chosen ids are read to the host each step, as the mmzoo loop does."""
    ids = prompts
    with torch.no_grad():
        if use_cache:
            model.reset_cache(prompts.shape[0])
        feed, start = prompts, 0
        for _ in range(new_tokens):
            logits = model(feed, start, use_cache)[:, -1]
            nxt = logits.argmax(-1, keepdim=True)
            nxt.tolist()
            ids = torch.cat([ids, nxt], dim=1)
            if use_cache:
                start += feed.shape[1]
                feed = nxt
            else:
                feed = ids
    return ids


def prepare(c, task):
    """The model and a function running one step of `task` (returning its loss, or None for generation)."""
    torch.manual_seed(0)
    model = Llama(c)
    b = task['batch']
    if task['kind'] == 'generate':
        p = task['promptLen']
        prompts = torch.tensor(lcg_tokens(b * p, c['vocabSize'], PROMPT_SEED)).view(b, p)
        model.eval()

        def generate():
            greedy(model, prompts, task['newTokens'], task['useCache'])

        return model, generate
    t = task['seqLen']
    ids = torch.tensor(lcg_tokens(b * (t + 1), c['vocabSize'], BATCH_SEED)).view(b, t + 1)
    x, y = ids[:, :-1], ids[:, 1:]
    # mmzoo's AdamW decay filter: matrices only, the embedding (and the output tied to it) excluded
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and 'embeddings' not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and 'embeddings' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': task['weightDecay']}, {'params': other, 'weight_decay': 0.0}],
                            lr=task['lr'], betas=tuple(task['betas']), eps=task['eps'])

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), task['clip'])
        opt.step()
        return loss.item()

    return model, step


def read_safetensors(path):
    """The F32 tensors of a safetensors file by name (its 8-byte header length, JSON header, then the data)."""
    import numpy as np
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    out = {}
    for name, v in json.loads(data[8:8 + n]).items():
        if name == '__metadata__':
            continue
        if v['dtype'] != 'F32':
            raise ValueError(f"{path}: {name} is {v['dtype']}, expected F32")
        a, b = v['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=np.float32).copy()).view(v['shape'])
    return out


def check(folder):
    """Loads the llama-tiny golden (llama2.c model.py's weights and outputs) into this file's Llama: the logits must
    match within 1e-4 and the greedy ids exactly, with and without the cache. Returns (ok, one line)."""
    case = json.load(open(os.path.join(folder, 'case.json')))
    a = case['config']['model_args']
    c = {'dim': a['dim'], 'layers': a['n_layers'], 'numHeads': a['n_heads'], 'numKvHeads': a['n_kv_heads'], 'vocabSize': a['vocab_size'],
         'hiddenDim': case['config']['hidden_dim'], 'maxSeqLen': a['max_seq_len'], 'normEps': a['norm_eps'], 'ropeTheta': case['config']['rope_theta']}
    model = Llama(c)
    model.load_state_dict(read_safetensors(os.path.join(folder, 'weights.safetensors')))
    model.eval()
    with torch.no_grad():
        diff = (model(torch.tensor(case['inputs']['tokens'])) - torch.tensor(case['outputs']['logits'])).abs().max().item()
    want = case['outputs']['generated_ids']
    new = len(want[0]) - len(case['inputs']['prompt'][0])
    ids = [greedy(model, torch.tensor(case['inputs']['prompt']), new, cache).tolist() for cache in (True, False)]
    ok = diff <= 1e-4 and ids[0] == want and ids[1] == want
    return ok, (f'bench/lm_step.py LLaMA against {os.path.basename(folder)} (llama2.c model.py): logits max |diff| {diff:.1e}, '
                f"greedy ids {'equal' if ids[0] == want and ids[1] == want else 'DIFFERENT'} with and without the cache")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    parser.add_argument('--check', metavar='FOLDER', help='compare the model with the llama-tiny golden folder and exit')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        ok, line = check(args.check)
        print(line)
        sys.exit(0 if ok else 1)
    runtime = f"torch {torch.__version__}, {torch.get_num_threads()} threads, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    step = None

    def handle(req):
        nonlocal step
        if req['op'] == 'setup':
            model, step = prepare(req['llama'], req['task'])
            for _ in range(req['warmup']):
                step()
            return {'params': sum(p.numel() for p in model.parameters()), 'runtime': runtime}
        if req['op'] == 'run':
            if step is None:
                raise ValueError('run before setup')
            ms, cpu_ms, losses = [], [], []
            for _ in range(req['steps']):
                t0, c0 = time.perf_counter(), time.process_time()
                loss = step()
                ms.append((time.perf_counter() - t0) * 1000)
                cpu_ms.append((time.process_time() - c0) * 1000)
                if loss is not None:
                    losses.append(loss)
            return {'ms': ms, 'cpuMs': cpu_ms, 'losses': losses}
        if req['op'] == 'exit':
            sys.exit(0)
        raise ValueError(f"unknown op {req['op']!r} (the PyTorch worker serves setup, run, exit)")

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # one line back; the worker keeps serving
            reply = {'error': f'{type(e).__name__}: {e}'.splitlines()[0]}
        print(json.dumps(reply), flush=True)


if __name__ == '__main__':
    main()
