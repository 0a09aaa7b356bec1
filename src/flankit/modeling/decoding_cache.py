"""Inference-only decoder passes of flankit's T5: cached step-by-step decoding and token trees.

* **Incremental decoding.** `start_decoding` computes the cross-attention K/V of every decoder
  layer once and preallocates the self-attention cache; `decode_step` feeds one token per row;
  `DecodeState.select` drops finished rows or follows beam parents.
* **Token trees.** `decode_tree` teacher-forces many continuations of one prompt in a single
  decoder row: the continuations form a prefix tree (shared prefixes, such as the start token,
  appear once), each node sits at its depth as position and attends only to its ancestors, so
  its hidden state equals the one it gets in a sequence of its own. All options of a prompt
  then share one copy of its encoder states and cross-attention K/V (rank classification).

`DecodingMixin` is mixed into `flankit.modeling.t5.T5`; it relies on the model's `shared`,
`decoder`, `project` and `run_decoder`. The token-tree layout is the one tree attention in
speculative decoding uses (Miao et al. 2024, SpecInfer); here it scores known options.
"""

from __future__ import annotations

import torch

from flankit.errors import ModelError
from flankit.modeling import kernels

# padded positions per cross K/V projection GEMM (see `_projection_chunks`)
PROJECT_TOKENS = 512
# initial self-cache length for the fused kernels (it doubles when full)
SELF_BLOCK = 32


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype matmuls run in: autocast's when it is on for x's device, else x's own."""
    kind = x.device.type
    if torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return x.dtype


def mask_to_bias(allowed: torch.Tensor, dtype) -> torch.Tensor:
    """Boolean [B, q, k] 'may attend' -> additive [B, 1, q, k] bias (0 or dtype min)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )[:, None]


def attend_cached(att, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias) -> torch.Tensor:
    """Attention `att` (its heads and output projection) for q [B, H, T, dk] against cached
    keys and values [B, H, S, dk].

    Plain matmuls (as transformers' eager T5 does) beat SDPA for a single query on CPU.
    """
    scores = torch.matmul(q.to(keys.dtype), keys.transpose(-1, -2)) + bias
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(values.dtype)
    out = torch.matmul(probs, values).to(q.dtype)  # a bf16 cache feeds an fp32 (int8) model
    return att.o(out.transpose(1, 2).reshape(q.shape[0], q.shape[2], att.h * att.dk))


class DecodeState:
    """Preallocated decoder cache for one batch: self-attention K/V and cross-attention K/V.

    Every cache is [rows, H, length, dk] per layer, so a step writes its key and value as
    contiguous rows and `q @ K^T` reads K through a transposed view (no copy). `self_bias` is
    the decoder position bias for a query at the last position (it depends only on the key -
    query distance, so step t uses its last t + 1 columns).

    With `group` > 1, each `group` consecutive decoder rows (the beams of one prompt) share one
    cross-attention row: the cross cache has rows / group rows, and a prompt's beams attend to
    it as `group` queries of one matmul, so its K/V are neither copied nor read once per beam.
    """

    def __init__(self, self_k, self_v, cross_k, cross_v, cross_bias, max_length, self_bias=None, group=1):
        self.self_k, self.self_v = self_k, self_v  # [rows, H, max_length, dk]
        self.cross_k, self.cross_v = cross_k, cross_v  # [rows / group, H, S, dk]
        self.cross_bias = cross_bias  # [rows / group, 1, 1, S]
        self.self_bias = self_bias  # [1, H, 1, max_len]
        self.max_length = max_length
        self.group = group
        self.length = 0

    @property
    def batch_size(self) -> int:
        return self.self_k[0].shape[0]

    def select(self, rows: torch.Tensor, cross_rows: torch.Tensor | None = None) -> DecodeState:
        """Keep (and reorder) batch rows, e.g. drop finished sequences or follow beam parents.

        Args:
            rows: for each new row, the old row its self-attention cache comes from.
            cross_rows: the old cross-attention rows to keep; needed with `group` > 1 (then
                they are prompts, and `rows` must keep each prompt's beams together), else
                `rows`. A pick that keeps every row in place reuses the tensors uncopied.
        """
        cross_rows = rows if cross_rows is None else cross_rows

        def pick(ts, idx):
            if idx.numel() == ts[0].shape[0] and torch.equal(idx, torch.arange(idx.numel())):
                return ts
            return [t.index_select(0, idx) for t in ts]

        n = len(self.self_k)
        own = pick(self.self_k + self.self_v, rows)
        cross = pick(self.cross_k + self.cross_v + [self.cross_bias], cross_rows)
        out = DecodeState(
            own[:n], own[n:], cross[:n], cross[n:-1], cross[-1], self.max_length, self.self_bias, self.group
        )
        out.length = self.length
        return out

    def fused_self_step(self, t: int) -> torch.Tensor:
        """For the fused kernels: make room for position `t` and return its position bias over
        the whole self cache, [1, H, 1, capacity], with positions after `t` masked.

        The fused kernels read the self cache whole (contiguous, one compiled shape per
        capacity) instead of a strided prefix, so it starts short and doubles when full.
        """
        cap = self.self_k[0].shape[2]
        if t == cap:
            grown = min(2 * cap, self.max_length)
            for cache in (self.self_k, self.self_v):
                for i, old in enumerate(cache):
                    cache[i] = torch.cat([old, old.new_zeros(*old.shape[:2], grown - cap, old.shape[3])], 2)
            cap = grown
        bias = self.self_bias.new_full(
            (*self.self_bias.shape[:3], cap), torch.finfo(self.self_bias.dtype).min
        )
        bias[..., : t + 1] = self.self_bias[..., self.max_length - 1 - t :]
        return bias


def _projection_chunks(mask: torch.Tensor, tokens: int | None = None):
    """(row slice, width) pieces of a [B, S] attention mask for the cross K/V projection.

    Each piece covers consecutive rows, about `tokens` padded positions, and only the columns
    up to its last attended position: GEMMs over a few hundred rows run faster here than one
    over the whole batch (their output stays in cache), and padding past every row's end in
    the piece is never projected (it stays zero in the cache and masked in attention).
    `tokens` defaults to `PROJECT_TOKENS`.
    """
    b, s = mask.shape
    tokens = tokens or PROJECT_TOKENS
    ends = (mask.ne(0) * torch.arange(1, s + 1, device=mask.device)).amax(1).clamp(min=1).tolist()
    start = 0
    while start < b:
        stop = start + max(1, tokens // max(ends[start], 1))
        yield slice(start, min(stop, b)), max(ends[start:stop])
        start = stop


class DecodingMixin:
    """Incremental decoding and token-tree scoring for `T5` (see the module docstring)."""

    cross_cache_dtype: torch.dtype | None = None  # see `start_decoding`
    fused_kernels = False  # compiled decoder-layer steps (`kernels.decoder_layer`), set by the int8 engine
    fused_layers: list[tuple] = []  # their per-layer arguments, see `T5.use_fused_kernels`

    @torch.no_grad()
    def start_decoding(
        self, encoder_hidden_states, attention_mask=None, max_length: int = 64, group: int = 1
    ) -> DecodeState:
        """Precompute cross-attention K/V for every decoder layer and allocate the self cache.

        `group` decoder rows (beams) per prompt share its cross K/V (see `DecodeState`). The
        cross K/V are stored in `self.cross_cache_dtype` when set (the int8 engine keeps them
        in bf16: every step reads all of them, so at large batches they cost more memory
        traffic than the int8 weights). They are projected in pieces of a few hundred
        positions, each only as wide as its longest row (`_projection_chunks`).
        """
        b, s, _ = encoder_hidden_states.shape
        dev = encoder_hidden_states.device
        mask = attention_mask if attention_mask is not None else torch.ones(b, s, device=dev)
        cross_bias = mask_to_bias(mask.bool()[:, None, :], self.dtype)
        att = self.decoder.block[0].layer[1].EncDecAttention
        layers, dtype = len(self.decoder.block), encoder_hidden_states.dtype
        cache_dtype = self.cross_cache_dtype or dtype
        cross_k = [
            encoder_hidden_states.new_empty((b, att.h, s, att.dk), dtype=cache_dtype) for _ in range(layers)
        ]
        cross_v = [torch.empty_like(k) for k in cross_k]
        # bf16 Linears pay a weight reorder per call here (oneDNN): one call for the batch
        pieces = _projection_chunks(mask, None if dtype == torch.float32 else b * s)
        for rows, width in pieces:
            enc = encoder_hidden_states[rows, :width]
            for block, k_cache, v_cache in zip(self.decoder.block, cross_k, cross_v, strict=True):
                # converted in the projection's layout, then laid out [B, H, S, dk] on the
                # smaller tensor: a converting transpose in one copy is slower
                k, v = block.layer[1].EncDecAttention.project_kv(enc, cache_dtype)
                k_cache[rows, :, :width] = k
                v_cache[rows, :, :width] = v
                k_cache[rows, :, width:] = 0  # masked, but must be finite (0 * NaN is NaN)
                v_cache[rows, :, width:] = 0
        # the eager path reads the self cache up to the current position, which is written
        # before it is read, so it needs no zeroing; the fused kernels read it whole (zeroed,
        # masked past the position, see `DecodeState.fused_self_step`), in the cross dtype
        if self.fused_kernels:
            shape, alloc = (b * group, att.h, min(max_length, SELF_BLOCK), att.dk), torch.zeros
            self_dtype = cache_dtype
        else:
            shape, alloc, self_dtype = (b * group, att.h, max_length, att.dk), torch.empty, dtype
        owner = self.decoder.bias_owner
        self_bias = owner.position_bias(1, max_length, dev, q_offset=max_length - 1).to(dtype)
        return DecodeState(
            [alloc(shape, dtype=self_dtype, device=dev) for _ in range(layers)],
            [alloc(shape, dtype=self_dtype, device=dev) for _ in range(layers)],
            cross_k,
            cross_v,
            cross_bias,
            max_length,
            self_bias,
            group,
        )

    @torch.no_grad()
    def decode_step(self, state: DecodeState, token_ids: torch.Tensor) -> torch.Tensor:
        """Feed one token per row ([B]); returns next-token logits [B, V] and advances the cache."""
        t = state.length
        if t >= state.max_length:
            raise ModelError(f"decode cache is full ({state.max_length} positions); use a larger max_length")
        x = self.shared(token_ids[:, None])
        if self.fused_kernels:
            x = self._fused_layers_step(state, x, t)
        else:
            x = self._eager_layers_step(state, x, t)
        state.length = t + 1
        return self.project(self.decoder.final_layer_norm(x))[:, 0]

    def _fused_layers_step(self, state: DecodeState, x: torch.Tensor, t: int) -> torch.Tensor:
        """The decoder layers of one step as compiled calls, one per layer (`kernels.decoder_layer`)."""
        self_bias, pos = state.fused_self_step(t), torch.tensor([t])
        for i, args in enumerate(self.fused_layers):
            caches = (state.self_k[i], state.self_v[i], state.cross_k[i], state.cross_v[i])
            x = kernels.decoder_layer(x, pos, self_bias, caches, state.cross_bias, *args)
        return x

    def _eager_layers_step(self, state: DecodeState, x: torch.Tensor, t: int) -> torch.Tensor:
        """The decoder layers of one step in eager ops over the cache prefix up to `t`."""
        b = x.shape[0]
        self_bias = state.self_bias[..., state.max_length - 1 - t :]
        for i, block in enumerate(self.decoder.block):
            sa, ca = block.layer[0], block.layer[1]
            att, catt = sa.SelfAttention, ca.EncDecAttention
            h = sa.layer_norm(x)
            if hasattr(att, "qkv_fused"):
                q, k, v = att.qkv_fused(h).chunk(3, dim=-1)
            else:
                q, k, v = att.q(h), att.k(h), att.v(h)
            keys, values = state.self_k[i][:, :, : t + 1], state.self_v[i][:, :, : t + 1]
            keys[:, :, t] = k.view(b, att.h, att.dk)
            values[:, :, t] = v.view(b, att.h, att.dk)
            x = x + attend_cached(att, att.split(q), keys, values, self_bias)
            # the rows of a group are the queries of their shared cross-attention row
            cq = catt.q(ca.layer_norm(x)).view(state.cross_bias.shape[0], -1, catt.h * catt.dk)
            cross = attend_cached(catt, catt.split(cq), state.cross_k[i], state.cross_v[i], state.cross_bias)
            x = x + cross.view(b, 1, -1)
            x = block.layer[2](x)
        return x

    @torch.no_grad()
    def decode_tree(self, token_ids, parents, depths, enc, enc_mask) -> torch.Tensor:
        """Teacher-force token trees, one per row; returns the nodes' final hidden states [B, T, d].

        Args:
            token_ids: [B, T] node tokens (node 0 is the root, usually the decoder start token).
            parents: [B, T] each node's parent index; parents precede their children, the root
                (and any padding node) is its own parent.
            depths: [B, T] each node's position (root 0, child = parent + 1).
            enc: [B, S, d] encoder states of each row's prompt; enc_mask: [B, S] 0/1.

        The hidden state of a node predicts the token after the path root..node, exactly as in
        a plain decoder pass over that path (`project` turns it into logits).
        """
        b, t = token_ids.shape
        # each node may see itself and its ancestors: follow parent links depth-many times
        allowed = torch.zeros(b, t, t, dtype=torch.bool, device=token_ids.device)
        node = torch.arange(t, device=token_ids.device).expand(b, t)
        for _ in range(int(depths.max()) + 1):
            allowed.scatter_(2, node[..., None], True)
            node = parents.gather(1, node)
        dtype = compute_dtype(enc)
        self_bias = self.decoder.bias_owner.bias_between(depths, depths).to(dtype) + mask_to_bias(
            allowed, dtype
        )
        cross_bias = mask_to_bias(enc_mask.bool()[:, None, :], dtype)
        return self.run_decoder(token_ids, enc, self_bias, cross_bias)
