"""Compiled (numba) kernels of the n-gram counter; see :mod:`genemask_viz.ngrams.counting`.

Codes: A=0, T=1, C=2, G=3; 4 breaks a run; the rolling code of the last n
bases is ``sum_i code(w_i) * 4^(n-1-i)``. ``ends`` holds, for every n < n_max
at offset ``offsets[n]``, the counts of the last n bases of finished runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _flush_run(code, run, n_max, ends, offsets):
    # the last n bases of a finished run, for every n < n_max the run covers
    top = min(run, n_max - 1)
    for n in range(1, top + 1):
        ends[offsets[n] + (code & ((1 << (2 * n)) - 1))] += 1


@njit(cache=True, nogil=True)
def _count_kernel(codes, n_max, counts, ends, offsets, state):
    """Add the n_max-grams of ``codes`` to ``counts``; state = [rolling code, run length]."""
    mask = (1 << (2 * n_max)) - 1
    code = state[0]
    run = state[1]
    for i in range(codes.size):
        c = codes[i]
        if c >= 4:
            if run > 0:
                _flush_run(code, run, n_max, ends, offsets)
            code = 0
            run = 0
        else:
            code = ((code << 2) | c) & mask
            run += 1
            if run >= n_max:
                counts[code] += 1
    state[0] = code
    state[1] = run


@njit(cache=True, nogil=True)
def _count_fasta_kernel(buf, table, n_max, counts, ends, offsets, state):
    """FASTA bytes straight to n_max-gram counts, in one pass (parse + count fused).

    state = [rolling code, run length, mode, records, bases, invalid] carried
    across blocks; mode 0 = at a line start, 1 = in a sequence line, 2 = in a
    header line. Returns the index of the first byte that may not appear in a
    sequence line, or -1.
    """
    mask = (1 << (2 * n_max)) - 1
    code, run, mode = state[0], state[1], state[2]
    records, bases, invalid = state[3], state[4], state[5]
    bad = -1
    for i in range(buf.size):
        b = buf[i]
        if mode == 2:
            if b == 10:
                mode = 0
            continue
        if b == 10:
            mode = 0
            continue
        if b == 62 and mode == 0:  # '>' at a line start: a new record
            if run > 0:
                _flush_run(code, run, n_max, ends, offsets)
            code = 0
            run = 0
            mode = 2
            records += 1
            continue
        mode = 1
        c = table[b]
        if c < 4:
            code = ((code << 2) | c) & mask
            run += 1
            bases += 1
            if run >= n_max:
                counts[code] += 1
        elif c == 4:
            if run > 0:
                _flush_run(code, run, n_max, ends, offsets)
            code = 0
            run = 0
            invalid += 1
        elif c == 5:
            continue
        else:
            bad = i
            break
    state[0], state[1], state[2] = code, run, mode
    state[3], state[4], state[5] = records, bases, invalid
    return bad


@njit(cache=True, nogil=True)
def _tail_state(buf, table, n_max):
    """The state a sequential scan has after ``buf``, from its tail alone.

    Returns [code, run, mode, ok]: the rolling code and length of the current
    ACGT run over its last <= n_max-1 bases (all the next block needs), and the
    line mode. ok = 0 when the tail does not decide it (no line start inside
    the scanned part), so the caller falls back to sequential order.
    """
    out = np.zeros(4, dtype=np.int64)
    n = buf.size
    if n == 0:
        return out
    last_nl = -1
    for i in range(n - 1, -1, -1):
        if buf[i] == 10:
            last_nl = i
            break
    if last_nl == n - 1:
        mode = 0
    elif last_nl >= 0:
        mode = 2 if buf[last_nl + 1] == 62 else 1
    else:
        return out  # one unfinished line: undecided
    out[2] = mode
    if mode == 2:
        out[3] = 1
        return out
    need = n_max - 1
    got = 0
    code = 0
    end = n - 1 if buf[n - 1] == 10 else n  # scan lines backward: content [start, end)
    while got < need:
        nl = end - 1
        while nl >= 0 and buf[nl] != 10:
            nl -= 1
        if nl < 0:
            return out  # reached the block start: the line may begin earlier
        start = nl + 1
        if start < end and buf[start] == 62:
            break  # a header line: the run began after it
        stop = False
        for i in range(end - 1, start - 1, -1):
            c = table[buf[i]]
            if c < 4:
                code |= c << (2 * got)
                got += 1
                if got == need:
                    stop = True
                    break
            elif c == 5:
                continue
            else:
                stop = True  # N or a bad byte ends the run (the kernel reports bad bytes)
                break
        if stop:
            break
        end = nl
    out[0] = code
    out[1] = got
    out[3] = 1
    return out
