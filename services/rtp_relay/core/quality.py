"""A listening-quality estimate (MOS) from what a relay can measure: delay, jitter and loss.

The E-model (ITU-T G.107) rates a call by a transmission rating factor R, from 0 (unusable) to
100, then maps R to a mean opinion score. A relay knows neither the handsets nor the rooms, so
it keeps G.107's defaults for everything but the network and the codec:

    R = R0 - Is - Id - Ie,eff + A      with R0 - Is = 93.2 (G.107 defaults), A = 0

Delay impairment ``Id`` (Cole & Rosenbluth, "Voice over IP performance monitoring", ACM CCR
2001, a fit of G.107's Idd/Idte terms for echo-cancelled telephony)::

    d  = one-way delay + 2 x jitter + 10 ms   (a jitter buffer of twice the jitter, plus codec
                                               look-ahead and processing)
    Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)         H = 1 when its argument > 0, else 0

Equipment impairment with packet loss (G.107 §7.6, formula 7-29, random loss: BurstR = 1)::

    Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)           Ppl = loss in percent

with the codec's ``Ie`` and ``Bpl`` from ITU-T G.113 Appendix I (G.711 with packet-loss
concealment: Ie 0, Bpl 25.1; G.729A: 11, 19; G.723.1 at 6.3 kbit/s: 15, 16.1). Unknown codecs
are rated as G.711. Wideband codecs (G.722, Opus) belong to G.107.1's extended scale and are
rated on the narrowband one: a conservative figure.

R maps to MOS by G.107 Annex B::

    MOS = 1                                           R <= 0
    MOS = 1 + 0.035 R + 7e-6 R (R - 60) (100 - R)     0 < R < 100
    MOS = 4.5                                         R >= 100

A perfect G.711 call (no loss, no jitter, short delay) rates R ~ 93, MOS ~ 4.4; 1 % random loss
costs about 3.6 R points, 5 % about 15.
"""

from __future__ import annotations

__all__ = ["CODEC_IMPAIRMENTS", "DEFAULT_IMPAIRMENT", "impairment_for", "mos_from_r", "r_factor"]

#: (Ie, Bpl) per codec name (upper case, as in ``a=rtpmap``), ITU-T G.113 Appendix I.
CODEC_IMPAIRMENTS: dict[str, tuple[float, float]] = {
    "PCMU": (0.0, 25.1),
    "PCMA": (0.0, 25.1),
    "G729": (11.0, 19.0),
    "G729A": (11.0, 19.0),
    "G723": (15.0, 16.1),
}
DEFAULT_IMPAIRMENT = CODEC_IMPAIRMENTS["PCMU"]

_R0_MINUS_IS = 93.2  # G.107 default values: R0 = 94.77, Is = 1.41 (with A = 0)
_EXTRA_DELAY_MS = 10.0  # codec look-ahead and processing, Cole & Rosenbluth
_ID_KNEE_MS = 177.3


def impairment_for(codec: str | None) -> tuple[float, float]:
    """``(Ie, Bpl)`` of a codec name, G.711's for an unknown one."""
    if codec is None:
        return DEFAULT_IMPAIRMENT
    return CODEC_IMPAIRMENTS.get(codec.upper(), DEFAULT_IMPAIRMENT)


def r_factor(
    delay_ms: float,
    jitter_ms: float,
    loss_pct: float,
    *,
    ie: float = DEFAULT_IMPAIRMENT[0],
    bpl: float = DEFAULT_IMPAIRMENT[1],
) -> float:
    """The E-model rating R (see the module docstring), clamped to [0, 100]."""
    d = max(0.0, delay_ms) + 2.0 * max(0.0, jitter_ms) + _EXTRA_DELAY_MS
    i_d = 0.024 * d + (0.11 * (d - _ID_KNEE_MS) if d > _ID_KNEE_MS else 0.0)
    ppl = min(100.0, max(0.0, loss_pct))
    i_e_eff = ie + (95.0 - ie) * ppl / (ppl + bpl)
    return min(100.0, max(0.0, _R0_MINUS_IS - i_d - i_e_eff))


def mos_from_r(r: float) -> float:
    """ITU-T G.107 Annex B: the MOS (1 to 4.5) a rating R predicts."""
    if r <= 0.0:
        return 1.0
    if r >= 100.0:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
