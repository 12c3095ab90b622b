"""The stills trials of bench/RESULTS.md "Accuracy": 50 known people, 50 strangers, 100 trials,
each rule's named / strangers-accepted rates, and cohort score normalisation (adaptive
S-norm) with other passers-by as the household's remembered strangers.

    python bench/stills_trials.py DATA [--aligned] [--cache DIR] [--trials 100] [--cohort 0,25,100,200,400]

DATA holds one folder per person (DATA/<name>/*.jpg), LFW's layout. The photos are
encoded with facewatch's own path: HOG (recognize's `HogDetector`), the central face
(eval's `central_face`), `encodings.face_crops`; each photo's quick encoding
(`describe_chips`, what recognize judges a camera face by and what stranger memory keeps)
and full one (`describe_views`, what enrolled photos are stored as, and what a close call
is judged by). Encodings are cached in --cache (they take ~0.15 s a photo).

`--aligned` is for copies whose photos are already cut to the face (112x112 ArcFace crops):
each is padded by half its size on every side (edge pixels repeated) so the face has LFW's
framing, and HOG finds it as it would in the original 250x250 photo.

A trial draws 50 known people (a row from those with 2+ photos, a row from those with 4+),
1-5 of their photos enrolled and up to 2 others as probes (full encodings), 50 strangers
(one photo each, people not known), and the household's remembered strangers from people
who are neither: --cohort of them (a prefix of one draw, so the sizes differ only in how
many), each remembered by up to 5 quick encodings (a stranger's representatives). The
defaults are measured by calling decisions.judge_face; the other rules keep the nearest
person by distance and the 0.85 margin and replace d <= T by a cut on a score: the columns
give the most known probes named by any cut accepting at most 0.02 / 0.01 / 0.003 of the
strangers (pooled over the trials), then each rule's curve with its own cut derived from α.

Cohort scores (K nearest cohort rows; K=0: all of them): t-norm (d - mu_p) / sd_p over the
probe's K nearest cohort distances, z-norm (d - mu_X) / sd_X over each of X's photos' K
nearest (mean over the photos), s-norm their mean; "prior as 100 strangers" weighs s-norm
against the prior's (d - 0.80) / 0.09 by n : 100, so a small memory changes little."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.faces.detection import HogDetector  # noqa: E402
from facewatch.faces.encodings import describe_chips, describe_views, face_crops  # noqa: E402
from facewatch.faces.gallery import Gallery  # noqa: E402
from facewatch.images import decode_bgr, to_rgb  # noqa: E402
from facewatch.local.evaluation import central_face  # noqa: E402
from facewatch.recognize.decisions import (  # noqa: E402
    MIN_THRESHOLD,
    PRIOR_IMPOSTOR,
    MatchPolicy,
    gallery_model,
    judge_face,
)

MAX_PHOTOS = 7
"""Per person encoded: 5 to enroll and 2 probes at most."""


@dataclass(frozen=True)
class Encoded:
    person: np.ndarray
    """(n,) index into names, per photo."""
    names: list[str]
    quick: np.ndarray
    full: np.ndarray


def select(data: Path, multi: int, singles: int, seed: int) -> list[Path]:
    """A subsample (the machine is shared): `multi` people with 2+ photos, half of them with
    4+ when there are that many, and `singles` with one, up to MAX_PHOTOS photos each."""
    people = sorted(p for p in data.iterdir() if p.is_dir())
    photos = {p.name: sorted(p.glob("*.jpg")) for p in people}
    rng = np.random.default_rng(seed)
    four = [n for n, ps in photos.items() if len(ps) >= 4]
    two = [n for n, ps in photos.items() if 2 <= len(ps) < 4]
    one = [n for n, ps in photos.items() if len(ps) == 1]
    take_four = min(len(four), multi // 2)
    chosen = list(rng.permutation(four)[:take_four]) + list(rng.permutation(two)[: multi - take_four])
    chosen += list(rng.permutation(one)[:singles])
    return [path for name in sorted(chosen) for path in photos[name][:MAX_PHOTOS]]


def load_image(path: Path, aligned: bool) -> np.ndarray:
    image = decode_bgr(path.read_bytes(), 20_000_000)
    if aligned:
        import cv2

        pad = image.shape[0] // 2
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return image


def encode(paths: Sequence[Path], cache: Path, aligned: bool) -> Encoded:
    key = hashlib.sha256(("\n".join(map(str, paths)) + f"\n{aligned}").encode()).hexdigest()[:16]
    stored = cache / f"encodings-{key}.npz"
    if stored.exists():
        z = np.load(stored, allow_pickle=False)
        return Encoded(z["person"], list(z["names"]), z["quick"], z["full"])
    cache.mkdir(parents=True, exist_ok=True)
    detector = HogDetector()
    owners, quick, full = [], [], []
    started = time.perf_counter()
    for i, path in enumerate(paths):
        image = load_image(path, aligned)
        boxes = detector.detect(image)
        if not boxes:
            continue
        crops = face_crops(to_rgb(image), [central_face(boxes, image.shape[1], image.shape[0])])
        q = describe_chips(crops.chips)
        owners.append(path.parent.name)
        quick.append(q[0])
        full.append(describe_views(crops, q)[0])
        if i % 100 == 0:
            print(f"encoded {i}/{len(paths)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    names = sorted(set(owners))
    index = {n: i for i, n in enumerate(names)}
    enc = Encoded(np.array([index[o] for o in owners]), names, np.array(quick), np.array(full))
    np.savez(stored, person=enc.person, names=np.array(names), quick=enc.quick, full=enc.full)
    return enc


KNOWN = 50
STRANGERS = 50
REPRESENTATIVES = 5
"""strangers.MAX_REPRESENTATIVES: how many encodings a remembered stranger keeps."""


@dataclass(frozen=True)
class Trial:
    gallery: np.ndarray
    """Rows of Encoded enrolled (full encodings)."""
    gallery_owner: np.ndarray
    """Per gallery row, its person (0..KNOWN-1)."""
    probes: np.ndarray
    probe_label: np.ndarray
    """Per probe, its person (0..KNOWN-1), or -1 for a stranger."""
    cohort: np.ndarray
    """Rows of the remembered strangers (quick encodings), nearest-first irrelevant."""
    cohort_owner: np.ndarray
    """Per cohort row, which stranger (0..n-1), in drawing order: a prefix of n strangers
    is a smaller memory."""


def draw_trial(enc: Encoded, rng: np.random.Generator, min_photos: int, cohort_people: int) -> Trial:
    rows_of = [np.flatnonzero(enc.person == i) for i in range(len(enc.names))]
    counts = np.array([len(r) for r in rows_of])
    eligible = np.flatnonzero(counts >= max(2, min_photos))
    known = rng.choice(eligible, KNOWN, replace=False)
    gallery, owner, probes, labels = [], [], [], []
    for k, person in enumerate(known):
        photos = rng.permutation(rows_of[person])
        enrolled = int(rng.integers(1, min(5, len(photos) - 1) + 1))
        gallery += list(photos[:enrolled])
        owner += [k] * enrolled
        probes += list(photos[enrolled : enrolled + 2])
        labels += [k] * len(photos[enrolled : enrolled + 2])
    others = rng.permutation(np.setdiff1d(np.arange(len(enc.names)), known))
    strangers, rest = others[:STRANGERS], others[STRANGERS : STRANGERS + cohort_people]
    probes += [int(rng.choice(rows_of[p])) for p in strangers]
    labels += [-1] * len(strangers)
    cohort, cohort_owner = [], []
    for i, person in enumerate(rest):
        reps = rng.permutation(rows_of[person])[:REPRESENTATIVES]
        cohort += list(reps)
        cohort_owner += [i] * len(reps)
    return Trial(
        np.array(gallery),
        np.array(owner),
        np.array(probes),
        np.array(labels),
        np.array(cohort, dtype=np.intp),
        np.array(cohort_owner, dtype=np.intp),
    )


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


@dataclass
class Scores:
    """Per probe of every trial, what each rule needs (nearest person by distance)."""

    known: list[bool] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    """Known probe whose nearest person is its own."""
    d1: list[float] = field(default_factory=list)
    margin_ok: list[bool] = field(default_factory=list)
    impostor: list[tuple[float, float]] = field(default_factory=list)
    """The trial's gallery impostor fit (mean, sd): T at any α."""
    judged_named: list[bool] = field(default_factory=list)
    """decisions.judge_face's verdict names the probe's own person (a stranger: anyone)."""
    normed: dict[str, list[float]] = field(default_factory=dict)
    """Score of the nearest person under each normalisation, by name."""
    trial: list[int] = field(default_factory=list)
    trials: int = 0
    ranked: dict[str, tuple[list[bool], list[bool], list[float]]] = field(default_factory=dict)
    """Scores that also choose the person: (own person chosen, margin holds, score) per probe."""
    calibrated: dict[str, list[bool]] = field(default_factory=dict)
    """Named (probe's nearest person, whoever it is) under a cut from the remembered strangers."""


def person_min(dist: np.ndarray, owner: np.ndarray, people: int) -> np.ndarray:
    out = np.full((dist.shape[0], people), np.inf)
    for k in range(people):
        out[:, k] = dist[:, owner == k].min(axis=1)
    return out


def top_k_stats(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each row's k smallest distances."""
    k = min(k, dist.shape[1])
    near = np.partition(dist, k - 1, axis=1)[:, :k]
    return near.mean(axis=1), np.maximum(near.std(axis=1), 1e-3)


def score_trial(
    enc: Encoded,
    trial: Trial,
    policy: MatchPolicy,
    cohort_sizes: Sequence[int],
    ks: Sequence[int],
    out: Scores,
) -> None:
    """One trial's probes: the defaults through judge_face, the nearest person by distance,
    and that person's normalised score under each cohort size n, K and variant (s: both
    sides, z: the person's side, t: the probe's side)."""
    gal_enc = enc.full[trial.gallery].astype(np.float32)
    names = [f"p{k:02d}" for k in trial.gallery_owner]
    gallery = Gallery(names=names, encodings=gal_enc, photo_keys=names, photo_etags=["" for _ in names])
    model = gallery_model(gallery)
    probe_enc = enc.full[trial.probes]
    dist = pairwise(probe_enc, gal_enc)
    per = person_min(dist, trial.gallery_owner, KNOWN)
    order = np.argsort(per, axis=1)
    rows = np.arange(len(per))
    b, second = order[:, 0], order[:, 1]
    d1, d2 = per[rows, b], per[rows, second]
    for i, label in enumerate(trial.probe_label):
        j = judge_face(probe_enc[i], face_px=100, sharpness=100.0, gallery=gallery, policy=policy)
        named = j.verdict == "known" and (label < 0 or j.name == f"p{label:02d}")
        out.judged_named.append(named)
    out.known += list(trial.probe_label >= 0)
    out.correct += list((trial.probe_label >= 0) & (b == trial.probe_label))
    out.d1 += list(d1)
    out.margin_ok += list(d1 <= policy.margin_ratio * d2)
    out.impostor += [(model.impostor_mean, model.impostor_sd)] * len(d1)
    cohort_probe = pairwise(probe_enc, enc.quick[trial.cohort])
    cohort_gal = pairwise(gal_enc, enc.quick[trial.cohort])
    for n in cohort_sizes:
        cols = trial.cohort_owner < n
        for k in ks:
            for variant in ("s", "z", "t"):
                key = f"{variant}-norm n={n} K={k}"
                if n == 0 or not cols.any():
                    mp, sp = np.full(len(d1), PRIOR_IMPOSTOR[0]), np.full(len(d1), PRIOR_IMPOSTOR[1])
                    mx, sx = mp, sp
                else:
                    kk = k if k else int(cols.sum())
                    mp, sp = top_k_stats(cohort_probe[:, cols], kk)
                    mg, sg = top_k_stats(cohort_gal[:, cols], kk)
                    # a person's figures: the mean over their photos
                    mxp = np.array([mg[trial.gallery_owner == q].mean() for q in range(KNOWN)])
                    sxp = np.array([sg[trial.gallery_owner == q].mean() for q in range(KNOWN)])
                    mx, sx = mxp[b], sxp[b]
                zp, zx = (d1 - mp) / sp, (d1 - mx) / sx
                value = {"s": (zp + zx) / 2, "z": zx, "t": zp}[variant]
                out.normed.setdefault(key, []).extend(value.tolist())
                if variant == "s" and n and k == BLEND_K:
                    # every person's score, and the person with the lowest named instead
                    every = ((per - mp[:, None]) / sp[:, None] + (per - mxp[None, :]) / sxp[None, :]) / 2
                    w = n / (n + PRIOR_STRANGERS)
                    mixed = w * every + (1 - w) * (per - PRIOR_IMPOSTOR[0]) / PRIOR_IMPOSTOR[1]
                    for name, table in (("", every), (f", prior as {PRIOR_STRANGERS}", mixed)):
                        by_s = np.argmin(table, axis=1)
                        others = np.where(np.arange(KNOWN)[None, :] == by_s[:, None], np.inf, per)
                        ranked = out.ranked.setdefault(
                            f"s-norm n={n} K={k}{name}, ranked by it", ([], [], [])
                        )
                        ranked[0].extend(((trial.probe_label >= 0) & (by_s == trial.probe_label)).tolist())
                        ranked[1].extend(
                            (per[rows, by_s] <= policy.margin_ratio * others.min(axis=1)).tolist()
                        )
                        ranked[2].extend(table[rows, by_s].tolist())
                    # the neutral prior while the memory is small: the prior's score (an
                    # affine map of the distance) weighed against the cohort's by n : n0
                    w = n / (n + PRIOR_STRANGERS)
                    prior = (d1 - PRIOR_IMPOSTOR[0]) / PRIOR_IMPOSTOR[1]
                    blended = w * value + (1 - w) * prior
                    key = f"s-norm n={n} K={k}, prior as {PRIOR_STRANGERS} strangers"
                    out.normed.setdefault(key, []).extend(blended.tolist())
    calibrated_cuts(enc, trial, gal_enc, policy, cohort_sizes, d1, b, d1 <= policy.margin_ratio * d2, out)
    out.trial += [out.trials] * len(d1)
    out.trials += 1


def calibrated_cuts(
    enc: Encoded,
    trial: Trial,
    gal_enc: np.ndarray,
    policy: MatchPolicy,
    cohort_sizes: Sequence[int],
    d1: np.ndarray,
    b: np.ndarray,
    margin: np.ndarray,
    out: Scores,
) -> None:
    """The cut taken from the remembered strangers themselves: each is a draw of a stranger
    at this door, so the α quantile of their own scores against the known set (nearest
    person, margin kept) is the cut that accepts α of strangers. Plain distance and the
    blended s-norm (each remembered stranger's own rows left out of its cohort)."""
    for n in cohort_sizes:
        if n < 25:
            continue
        rows = np.flatnonzero(trial.cohort_owner < n)
        owner = trial.cohort_owner[rows]
        first = rows[np.unique(owner, return_index=True)[1]]
        null_enc = enc.quick[trial.cohort[first]]
        per = person_min(pairwise(null_enc, gal_enc), trial.gallery_owner, KNOWN)
        order = np.argsort(per, axis=1)
        idx = np.arange(len(per))
        nb, nd1, nd2 = order[:, 0], per[idx, order[:, 0]], per[idx, order[:, 1]]
        nmargin = nd1 <= policy.margin_ratio * nd2
        cohort_rows = enc.quick[trial.cohort[rows]]
        c_null = pairwise(null_enc, cohort_rows)
        c_null[owner[None, :] == np.arange(len(first))[:, None]] = np.inf  # leave itself out
        c_probe = pairwise(enc.full[trial.probes], cohort_rows)
        c_gal = pairwise(gal_enc, cohort_rows)
        mg, sg = top_k_stats(c_gal, BLEND_K)
        mx = np.array([mg[trial.gallery_owner == q].mean() for q in range(KNOWN)])
        sx = np.array([sg[trial.gallery_owner == q].mean() for q in range(KNOWN)])
        w = n / (n + PRIOR_STRANGERS)
        for name, probe_score, null_score in (
            ("distance", d1, nd1),
            (
                "s-norm K=50, prior as 100",
                blended(d1, c_probe, mx[b], sx[b], w),
                blended(nd1, c_null, mx[nb], sx[nb], w),
            ),
        ):
            null_sorted = np.sort(np.where(nmargin, null_score, np.inf))
            for alpha in ALPHAS:
                cut = null_sorted[int(np.floor(alpha * len(null_sorted)))]
                named = margin & (probe_score < cut) & (d1 <= policy.threshold)
                out.calibrated.setdefault(f"{name}, n={n}, α {alpha}", []).extend(named.tolist())


def blended(d: np.ndarray, cdist: np.ndarray, mx: np.ndarray, sx: np.ndarray, w: float) -> np.ndarray:
    """s-norm (the person's figures mx, sx given) weighed against the prior's score by w."""
    mp, sp = top_k_stats(cdist, BLEND_K)
    s_norm = ((d - mp) / sp + (d - mx) / sx) / 2
    return w * s_norm + (1 - w) * (d - PRIOR_IMPOSTOR[0]) / PRIOR_IMPOSTOR[1]


def at_rate(named: np.ndarray, score: np.ndarray, known: np.ndarray, rates: Sequence[float]) -> list[float]:
    """Best named rate of known probes with score <= cut, for cuts accepting at most each
    rate of strangers (`named` already holds the other conditions)."""
    stranger = np.sort(np.where(named & ~known, score, np.inf)[~known])
    out = []
    for rate in rates:
        allowed = int(np.floor(rate * len(stranger)))
        cut = stranger[allowed] if allowed < len(stranger) else np.inf
        out.append(float((named & known & (score < cut)).sum() / known.sum()))
    return out


def run_trials(enc: Encoded, args: argparse.Namespace) -> None:
    policy = MatchPolicy()
    rates = (0.02, 0.01, 0.003)
    cohort_sizes = [int(x) for x in args.cohort.split(",")]
    ks = [int(x) for x in args.k.split(",")]
    print(f"{len(enc.person)} faces of {len(enc.names)} people; {args.trials} trials a row")
    for min_photos in (2, 4):
        rng = np.random.default_rng(args.seed + min_photos)
        scores = Scores()
        for _ in range(args.trials):
            trial = draw_trial(enc, rng, min_photos, max(cohort_sizes))
            score_trial(enc, trial, policy, cohort_sizes, ks, scores)
        known = np.array(scores.known)
        correct = np.array(scores.correct) | ~known
        margin = np.array(scores.margin_ok)
        d1 = np.array(scores.d1)
        judged = np.array(scores.judged_named)
        print(f"\nknown people drawn from those with >= {min_photos} photos")
        print("| rule | named / strangers accepted (judge_face) | named at 0.02 / 0.01 / 0.003 accepted |")
        print("|---|---|---|")
        fa = judged[~known].mean()
        best = at_rate(correct & margin, d1, known, rates)
        trial_of = np.array(scores.trial)
        lumps = [f"defaults {lumpy(judged, known, trial_of):.2f}"]
        print(f"| distance, T and margin (defaults) | {judged[known].mean():.3f} / {fa:.3f} | {fmt(best)} |")
        print(f"| distance, no margin | | {fmt(at_rate(correct, d1, known, rates))} |")
        for key, values in scores.normed.items():
            if " n=0 " in key and not key.startswith("s-norm n=0 K=0"):
                continue  # the prior alone: every n=0 row is the plain distance's
            v = np.array(values)
            print(f"| {key} + margin | | {fmt(at_rate(correct & margin, v, known, rates))} |")
            if key.startswith("s-norm n=400 K=50"):
                # the same rate of strangers accepted as the defaults', then how lumpy
                stranger = np.sort(np.where(correct & margin, v, np.inf)[~known])
                cut = stranger[round(fa * len(stranger))]
                lumps.append(f"{key} {lumpy(correct & margin & (v < cut), known, trial_of):.2f}")
        for key, (chosen, held, value) in scores.ranked.items():
            ok = (np.array(chosen) | ~known) & np.array(held)
            print(f"| {key} + margin | | {fmt(at_rate(ok, np.array(value), known, rates))} |")
        print("share of trials accepting 2+ of 50 strangers, at the defaults' rate:", "; ".join(lumps))
        print("\ntrade-off, defaults with α moved: α: named / strangers accepted")
        imp = np.array(scores.impostor)
        for alpha in ALPHAS:
            z = NormalDist().inv_cdf(alpha / KNOWN)
            t = np.clip(imp[:, 0] + imp[:, 1] * z, MIN_THRESHOLD, policy.threshold)
            named = correct & margin & (d1 <= t)
            print(f"  {alpha}: {named[known].mean():.3f} / {named[~known].mean():.3f}")
        print("cut from the remembered strangers' own scores (α quantile): named / strangers accepted")
        for key, flags in scores.calibrated.items():
            f = np.array(flags)
            print(f"  {key}: {(f & correct)[known].mean():.3f} / {f[~known].mean():.3f}")
        for key, values in scores.normed.items():
            if not key.endswith("strangers"):
                continue
            v = np.array(values)
            print(f"{key}, named if score <= (T(α) - 0.80) / 0.09 (T in the prior's units), with margin:")
            for alpha in ALPHAS:
                z = NormalDist().inv_cdf(alpha / KNOWN)
                t = np.clip(imp[:, 0] + imp[:, 1] * z, MIN_THRESHOLD, policy.threshold)
                cut = (t - PRIOR_IMPOSTOR[0]) / PRIOR_IMPOSTOR[1]
                named = correct & margin & (v <= cut) & (d1 <= policy.threshold)
                print(f"  {alpha}: {named[known].mean():.3f} / {named[~known].mean():.3f}")
        for key, values in scores.normed.items():
            if not key.endswith("K=0") or key.startswith(("z", "t")):
                continue
            v = np.array(values)
            print(f"{key}, named if score <= z(α/P) and distance <= 0.6, with margin:")
            for alpha in ALPHAS:
                z = NormalDist().inv_cdf(alpha / KNOWN)
                named = correct & margin & (v <= z) & (d1 <= policy.threshold)
                print(f"  {alpha}: {named[known].mean():.3f} / {named[~known].mean():.3f}")


def lumpy(named: np.ndarray, known: np.ndarray, trial: np.ndarray) -> float:
    accepted = np.bincount(trial[named & ~known], minlength=trial.max() + 1)
    return float((accepted >= 2).mean())


BLEND_K = 50
PRIOR_STRANGERS = 100
ALPHAS = (0.005, 0.01, 0.02, 0.03, 0.04, 0.06)


def fmt(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stills_cache"))
    parser.add_argument("--aligned", action="store_true")
    parser.add_argument("--multi", type=int, default=600, help="people with 2+ photos encoded")
    parser.add_argument("--singles", type=int, default=1000, help="people with one photo encoded")
    parser.add_argument("--seed", type=int, default=0, help="the trials' draws")
    parser.add_argument("--sample-seed", type=int, default=0, help="which photos are encoded")
    parser.add_argument("--encode-only", action="store_true")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--cohort", default="0,25,100,200,400", help="remembered strangers, per trial")
    parser.add_argument("--k", default="10,50,0", help="nearest cohort rows per side (0: all)")
    args = parser.parse_args(argv)
    paths = select(args.data, args.multi, args.singles, args.sample_seed)
    print(f"{len(paths)} photos selected", file=sys.stderr)
    enc = encode(paths, args.cache, args.aligned)
    print(f"{len(enc.person)} faces of {len(enc.names)} people encoded", file=sys.stderr)
    if args.encode_only:
        return 0
    run_trials(enc, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
