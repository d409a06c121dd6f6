"""The video tracker and the best-shot choice on made-up detections: crossing, occlusion, entering, leaving."""

from __future__ import annotations

import numpy as np
import pytest

from fqe_onnx.video.shots import BestShots, Shot
from fqe_onnx.video.tracker import (
    GATE,
    GATE_GROWTH,
    GATE_MAX,
    MIN_HITS,
    Detected,
    Plan,
    Track,
    Tracker,
    box_centre_size,
    centre_size_box,
    unit,
    visible_share,
)

WIDTH, HEIGHT = 640, 360


def person(seed: int, dim: int = 128) -> np.ndarray:
    """A person's embedding direction (random: two of them are nearly orthogonal)."""
    vector = np.random.default_rng(seed).normal(size=dim)
    return vector / np.linalg.norm(vector)


def seen(face: np.ndarray, seed: int, noise: float = 0.5, q: float = 2.0) -> np.ndarray:
    """One scored view of a face: its direction plus noise, with norm q (as the model's embedding)."""
    vector = face + np.random.default_rng(seed).normal(scale=noise / np.sqrt(len(face)), size=len(face))
    return q * vector / np.linalg.norm(vector)


def box_at(x: float, y: float, size: float = 60.0) -> np.ndarray:
    return np.array([x - size / 2, y - size / 2, x + size / 2, y + size / 2])


def step(tracker: Tracker, frame: int, faces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[int], list[int]]:
    """One detection frame as the pipeline runs it: the faces the plan finds unclear get their
    embedding; returns (the track id of each face, the ids of the tracks that ended)."""
    detections = [Detected(box, 0.99) for box, _ in faces]
    plan = tracker.plan(detections, frame)
    for i in plan.unclear:
        detections[i].embedding = faces[i][1]
    update = tracker.update(detections, frame, plan)
    return [update.matched[i] for i in range(len(faces))], [t.id for t in update.ended]


def test_two_faces_crossing_keep_their_tracks():
    """Two faces walk towards each other on one line; A passes in front and hides B for 6 frames."""
    a, b = person(1), person(2)
    tracker = Tracker(WIDTH, HEIGHT)
    ids_a, ids_b = set(), set()
    for frame in range(60):
        xa, xb = 100 + 8 * frame, 540 - 8 * frame  # they meet at frame 27
        faces = [(box_at(xa, 180), seen(a, frame))]
        if not 24 <= frame < 30:  # B hidden behind A
            faces.append((box_at(xb, 184), seen(b, 1000 + frame)))
        ids, ended = step(tracker, frame, faces)
        assert not ended
        ids_a.add(ids[0])
        if len(ids) == 2:
            ids_b.add(ids[1])
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_faces_that_meet_and_turn_back_are_told_apart_by_their_embeddings():
    """A and B walk towards each other, stand nearly on top of each other, and each goes back the
    way it came: motion alone says they went on (and swaps them); their embeddings say otherwise."""
    a, b = person(3), person(4)
    tracker = Tracker(WIDTH, HEIGHT)
    owners: dict[str, set] = {"a": set(), "b": set()}
    rng = np.random.default_rng(0)
    for frame in range(60):
        travelled = 6 * min(frame, 60 - frame)  # out until frame 30, then back
        xa, xb = 140 + travelled, 500 - travelled  # 4 px apart at the turn
        jitter = rng.normal(scale=2.0, size=2)
        faces = [(box_at(xa + jitter[0], 180), seen(a, frame)), (box_at(xb + jitter[1], 182), seen(b, 500 + frame))]
        ids, _ = step(tracker, frame, faces)
        owners["a"].add(ids[0])
        owners["b"].add(ids[1])
    assert len(owners["a"]) == 1 and len(owners["b"]) == 1 and owners["a"] != owners["b"]


def test_a_face_hidden_for_a_second_keeps_its_track():
    a = person(5)
    tracker = Tracker(WIDTH, HEIGHT, max_missing=30)
    ids = set()
    for frame in range(80):
        if 30 <= frame < 55:  # 25 frames: a second at 25 fps
            step(tracker, frame, [])
            continue
        found, ended = step(tracker, frame, [(box_at(60 + 6 * frame, 150), seen(a, frame))])
        assert not ended
        ids.add(found[0])
    assert len(ids) == 1


def test_a_face_hidden_too_long_ends_and_a_new_track_starts():
    a = person(6)
    tracker = Tracker(WIDTH, HEIGHT, max_missing=10)
    first, _ = step(tracker, 0, [(box_at(100, 150), seen(a, 0))])
    for frame in range(1, 5):
        step(tracker, frame, [(box_at(100 + 2 * frame, 150), seen(a, frame))])
    ended_at = None
    for frame in range(5, 30):
        _, ended = step(tracker, frame, [])
        if ended:
            ended_at = frame
            assert ended == first
            break
    assert ended_at == 5 + 10  # the 11th frame without it
    again, _ = step(tracker, 31, [(box_at(170, 150), seen(a, 31))])
    assert again != first


def test_another_persons_face_where_a_hidden_one_was_expected_starts_its_own_track():
    a, b = person(7), person(8)
    tracker = Tracker(WIDTH, HEIGHT)
    for frame in range(10):
        ids, _ = step(tracker, frame, [(box_at(300, 150), seen(a, frame))])
    owner = ids[0]
    step(tracker, 10, [])
    stranger, _ = step(tracker, 11, [(box_at(300, 150), seen(b, 99))])
    assert stranger[0] != owner


def test_a_face_entering_through_an_edge_gets_one_track_once_confirmed():
    a = person(9)
    tracker = Tracker(WIDTH, HEIGHT)
    ids, confirmed_at = set(), None
    for frame in range(20):
        x = -25 + 7 * frame  # the box starts half outside the left edge
        found, _ = step(tracker, frame, [(box_at(x, 200), seen(a, frame))])
        ids.add(found[0])
        if confirmed_at is None and tracker.tracks[found[0]].confirmed:
            confirmed_at = frame
    assert len(ids) == 1
    assert confirmed_at == MIN_HITS - 1


def test_a_face_leaving_through_an_edge_ends_its_track_without_waiting_a_second():
    a = person(10)
    tracker = Tracker(WIDTH, HEIGHT, max_missing=30)
    frame, x = 0, 400.0
    while x < WIDTH - 20:  # walks right until the detector loses it at the edge
        step(tracker, frame, [(box_at(x, 200), seen(a, frame))])
        frame, x = frame + 1, x + 12
    last_seen = start = frame - 1
    for frame in range(start + 1, start + 41):
        _, ended = step(tracker, frame, [])
        if ended:
            break
    assert ended and frame - last_seen <= 6  # not the 30 frames of a hidden face


def test_a_one_frame_false_detection_never_becomes_a_track():
    tracker = Tracker(WIDTH, HEIGHT)
    step(tracker, 0, [(box_at(300, 200), person(11))])
    _, ended = step(tracker, 1, [])
    assert ended == [] and tracker.tracks == {}
    assert tracker.finish() == []


def shot(frame: int, Q: int, q: float) -> Shot:
    return Shot(frame, frame / 25, q, Q, (0.0, 0.0, 1.0, 1.0), 0.9, 30.0, np.zeros((2, 2, 3), np.uint8))


def test_best_shots_keep_the_highest_Q_then_the_highest_q_then_the_earliest():
    shots = BestShots(2)
    for s in (shot(0, 70, 2.5), shot(1, 80, 2.6), shot(2, 80, 2.7), shot(3, 75, 9.0), shot(4, 80, 2.7)):
        shots.offer(s)
    assert [(s.frame, s.Q, s.q) for s in shots.shots] == [(2, 80, 2.7), (4, 80, 2.7)]
    assert shots.best.frame == 2
    assert not shots.wants(80, 2.6, 5) and shots.wants(81, 0.1, 6)


def test_one_best_shot_by_default_and_never_fewer_than_one():
    shots = BestShots()
    assert shots.best is None and shots.wants(0, 0.0, 0)
    shots.offer(shot(0, 10, 1.0))
    shots.offer(shot(1, 9, 5.0))
    assert [s.frame for s in shots.shots] == [0]
    with pytest.raises(ValueError, match="^k must be at least 1, got 0$"):
        BestShots(0)


def test_of_two_equal_shots_the_earlier_frame_is_kept_whatever_the_order_offered():
    shots = BestShots(2)
    assert shots.offer(shot(7, 80, 2.5)) and shots.offer(shot(3, 80, 2.5))  # the later frame offered first
    assert [s.frame for s in shots.shots] == [3, 7]
    assert shots.wants(80, 2.5, 5) and not shots.wants(80, 2.5, 7)  # an equal shot is no better than the last
    assert shots.offer(shot(5, 80, 2.5)) and [s.frame for s in shots.shots] == [3, 5]
    assert not shots.offer(shot(9, 80, 2.5)) and [s.frame for s in shots.shots] == [3, 5]


def test_a_face_that_steps_out_where_the_followed_one_was_and_walks_off_is_not_followed():
    """B appears right where A is (hiding it) and walks the other way; A comes out a few frames later.
    Nothing tells them apart on B's first frames; once B's move jumps off A's velocity, B's
    embedding is checked, B gets a track of its own and A gets its own back."""
    a, b = person(13), person(14)
    tracker = Tracker(WIDTH, HEIGHT)
    for frame in range(10):
        (owner,), _ = step(tracker, frame, [(box_at(400 - 8 * frame, 180), seen(a, frame))])
    ids_b = []
    for frame in range(10, 20):  # A hidden behind B, who walks right
        (found,), _ = step(tracker, frame, [(box_at(325 + 8 * (frame - 10), 182), seen(b, 100 + frame))])
        ids_b.append(found)
    assert owner not in ids_b[3:] and len(set(ids_b[3:])) == 1
    for frame in range(20, 26):  # A out again, where it was heading
        faces = [
            (box_at(325 + 8 * (frame - 10), 182), seen(b, 100 + frame)),
            (box_at(400 - 8 * frame, 180), seen(a, frame)),
        ]
        ids, _ = step(tracker, frame, faces)
        assert ids == [ids_b[-1], owner]


# -- the tracker's rules one by one, on boxes and embeddings placed by hand ---------------------------


def tall(x: float, y: float = 150.0, width: float = 60.0, height: float = 100.0) -> np.ndarray:
    """A box taller than wide, so that a width and a height mixed up give another answer."""
    return np.array([x - width / 2, y - height / 2, x + width / 2, y + height / 2])


def follow(tracker: Tracker, xs, embedding=None, box=tall, first: int = 0) -> int:
    """One face seen on consecutive frames from ``first`` at these centres; returns its track id."""
    for frame, x in enumerate(xs, first):
        update = tracker.update([Detected(box(x, 150.0), 0.9, embedding)], frame)
    return update.matched[0]


def test_box_centre_and_size_and_back():
    centre, size = box_centre_size(np.array([8, 17, 12, 23]))
    assert list(centre) == [10, 20] and list(size) == [4, 6]
    assert list(centre_size_box(centre, size)) == [8, 17, 12, 23]


def test_unit_vectors_of_any_length_and_of_none():
    assert list(unit([3, 4])) == [0.6, 0.8] and list(unit([0.3, 0.4])) == pytest.approx([0.6, 0.8])
    assert list(unit([0.0, 0.0])) == [0, 0]  # no NaN


@pytest.mark.parametrize(
    "box,share",
    [
        ([0, 0, 10, 20], 1.0),  # touching the top-left corner
        ([630, 340, 640, 360], 1.0),  # and the bottom-right one
        ([-10, 0, 10, 20], 0.5),
        ([0, -5, 10, 15], 0.75),
        ([630, 350, 650, 370], 0.25),
        ([-30, 0, -10, 20], 0.0),
        ([0, 400, 10, 420], 0.0),
    ],
)
def test_the_share_of_a_box_inside_the_frame(box, share):
    assert visible_share(np.array(box, dtype=float), WIDTH, HEIGHT) == share


def test_a_track_predicts_at_constant_velocity_and_never_below_a_pixel():
    track = Track(0, box_at(100, 100), 5, 5, velocity=np.array([2.0, -1.0, 4.0, 2.0]))
    assert list(track.predict(8)) == [70.0, 64.0, 142.0, 130.0]  # centre (106, 97), size (72, 66)
    track.velocity = np.array([0.0, 0.0, -30.0, -10.0])
    assert list(track.predict(8)) == [99.5, 85.0, 100.5, 115.0]  # width 60 - 90: 1 px; height 30


def test_the_gate_widens_with_each_missed_frame_up_to_its_cap():
    track = Track(0, box_at(100, 100), 0, 0)
    gates = []
    for missing in (0, 3, 24, 100):
        track.missing = missing
        gates.append(track.gate())
    assert gates == pytest.approx([GATE, GATE + 3 * GATE_GROWTH, GATE_MAX, GATE_MAX])


def test_the_velocity_is_the_first_move_then_an_alpha_beta_filter():
    track = Track(0, box_at(100, 100), 0, 0)
    track.see(box_at(110, 100), 1)
    assert list(track.velocity) == [10, 0, 0, 0]
    track.see(box_at(150, 100, 64), 3)  # 40 px in 2 frames, 4 px wider: 20 and 2 a frame
    assert list(track.velocity) == [15, 0, 1, 1]  # half way (VELOCITY_GAIN 0.5)
    assert (track.hits, track.frame, track.missing) == (3, 3, 0)


def test_a_face_that_jumps_off_its_velocity_makes_its_track_suspect_from_the_third_sighting():
    def walked(xs) -> Track:
        track = Track(0, tall(100), 0, 0)
        for frame, x in enumerate(xs, 1):
            track.see(tall(x), frame)
        return track

    assert not walked([110, 120]).suspect and not walked([110, 120, 130]).suspect  # steady: 10 a frame
    assert not walked([110, 149]).suspect  # the second sighting: a velocity from one move only
    assert not walked([110, 120, 139]).suspect  # 9 px off: 0.15 face widths, not above
    assert walked([110, 120, 139.5]).suspect


def test_the_appearance_is_the_sum_of_the_embeddings_as_a_unit_vector():
    track = Track(0, box_at(100, 100), 0, 0)
    assert track.similarity(np.array([1.0, 0.0])) is None
    track.learn(np.array([2.0, 0.0]))  # a sharp face: q 2
    track.learn(np.array([0.0, 1.0]))  # a blurred one, q 1: it weighs half
    assert track.appearance == pytest.approx(unit([2.0, 1.0]))
    assert track.similarity(np.array([0.0, 5.0])) == pytest.approx(1 / 5**0.5) and track.similarity(None) is None


def test_tracks_are_numbered_from_0_and_update_names_the_new_ones():
    tracker = Tracker(WIDTH, HEIGHT)
    first = tracker.update([Detected(box_at(100, 100), 0.9), Detected(box_at(400, 100), 0.9)], 0)
    assert first.matched == {0: 0, 1: 1} and first.new == [0, 1]
    second = tracker.update([Detected(box_at(102, 100), 0.9), Detected(box_at(250, 300), 0.9)], 1)
    assert second.matched == {0: 0, 1: 2} and second.new == [2]
    assert tracker.tracks[2].first_frame == 1 and tracker.tracks[0].first_frame == 0


@pytest.mark.parametrize("min_hits", [1, 2])
def test_a_track_is_confirmed_after_min_hits_detections(min_hits):
    tracker = Tracker(WIDTH, HEIGHT, min_hits=min_hits)
    tracker.update([Detected(box_at(100, 100), 0.9)], 0)
    assert tracker.tracks[0].confirmed == (min_hits == 1)
    tracker.update([Detected(box_at(102, 100), 0.9)], 1)
    assert tracker.tracks[0].confirmed


def test_with_min_hits_1_one_detection_is_a_track_that_ends_as_one():
    tracker = Tracker(WIDTH, HEIGHT, min_hits=1, max_missing=0)
    tracker.update([Detected(box_at(100, 100), 0.9)], 0)
    assert [t.id for t in tracker.update([], 1).ended] == [0]


def test_a_face_near_its_tracks_prediction_is_a_clear_match_by_motion_alone():
    tracker = Tracker(WIDTH, HEIGHT)
    owner = follow(tracker, [100, 105, 110, 115], box=box_at)  # predicted at 120 on frame 4
    assert tracker.plan([Detected(box_at(121, 150), 0.9)], 4) == Plan({0: owner}, [])
    assert tracker.plan([Detected(box_at(141, 150), 0.9)], 4).clear == {0: owner}  # 0.35 widths: still clear
    assert tracker.plan([Detected(box_at(141.5, 150), 0.9)], 4).unclear == [0]
    assert tracker.plan([Detected(box_at(120, 150, 90), 0.9)], 4).unclear == [0]  # 1.5 times wider: a surprise
    assert tracker.plan([Detected(box_at(118, 150), 0.9), Detected(box_at(125, 150), 0.9)], 4) == Plan({}, [0, 1])
    tracker.update([], 4)
    assert tracker.plan([Detected(box_at(125, 150), 0.9)], 5).unclear == [0]  # its track was missing


@pytest.mark.parametrize(
    "box,same",
    [
        (tall(136), True),  # 0.6 widths off: at the gate
        (tall(137), False),  # past it (a height taken for the width would let it in)
        (tall(150, width=90, height=150), True),  # 50 px off a face 1.5 times wider: 0.56 of its width
        (tall(130, width=40, height=66), True),  # 30 px off a narrower face: 0.5 of the track's width
        (tall(100, width=96, height=160), True),  # 1.6 times wider: the largest change
        (tall(100, width=96.6, height=161), False),
        (tall(100, width=37.5, height=62.5), True),  # 1.6 times narrower
        (tall(100, width=37, height=62), False),
    ],
)
def test_the_motion_gate_is_in_widths_of_the_wider_face_and_bounds_the_size_change(box, same):
    tracker = Tracker(WIDTH, HEIGHT)
    owner = follow(tracker, [100, 100, 100, 100])
    update = tracker.update([Detected(box, 0.9)], 4)
    assert (update.matched[0] == owner) == same


def test_a_clear_match_whose_face_was_scored_anyway_is_checked_on_its_embedding():
    tracker = Tracker(WIDTH, HEIGHT)
    owner = follow(tracker, [100, 100, 100, 100], embedding=person(21))
    stranger = [Detected(tall(100), 0.9, person(22))]  # where the face was, but another person's
    plan = tracker.plan(stranger, 4)
    assert plan.clear == {0: owner}
    update = tracker.update(stranger, 4, plan)
    assert update.matched[0] != owner and update.new == [update.matched[0]]


def test_a_face_exactly_at_min_similarity_may_still_be_the_tracks():
    tracker = Tracker(WIDTH, HEIGHT, min_similarity=0.6)
    owner = follow(tracker, [100, 100, 100, 100], embedding=np.array([1.0, 0.0]))
    tracker.update([], 4)  # hidden a frame: the next face needs its embedding
    update = tracker.update([Detected(tall(100), 0.9, np.array([3.0, 4.0]))], 5)  # similarity 3/5
    assert update.matched == {0: owner}


def test_a_hidden_confirmed_track_wins_a_face_over_a_track_started_while_it_was_hidden():
    tracker = Tracker(WIDTH, HEIGHT)
    owner = follow(tracker, [100, 100, 100, 100], box=box_at)
    (started,) = tracker.update([Detected(box_at(140, 150), 0.9)], 4).new  # past the gate: a track of its own
    update = tracker.update([Detected(box_at(125, 150), 0.9)], 5)  # nearer the new one (0.25) than the old (0.42)
    assert update.matched == {0: owner} and started not in tracker.tracks


def hidden_walker(tracker: Tracker, hidden: int, embedding=(1.0, 0.0)) -> int:
    """A face walking right 10 px a frame on frames 0-3 (centre 130 on frame 3), then hidden for
    ``hidden`` frames: it is expected at 130 + 10 (hidden + 1) on the next frame."""
    owner = follow(tracker, [100, 110, 120, 130], embedding=None if embedding is None else np.array(embedding))
    for frame in range(4, 4 + hidden):
        tracker.update([], frame)
    return owner


@pytest.mark.parametrize(
    "hidden,widths_off,embedding,same",
    [
        (3, 4, (1.0, 0.0), True),  # past the motion gate: its face is recognised
        (3, 4, (0.0, 1.0), False),  # another person's face there: a track of its own
        (3, 6, (1.0, 0.0), True),  # as far as a face is looked for
        (3, 7, (1.0, 0.0), False),  # farther
        (3, 4, (2.0, 21**0.5), True),  # similarity exactly 0.4, REID_SIMILARITY
        (3, 4, (0.2, 0.96**0.5), False),  # similarity 0.2: enough for the motion gate, not to recognise it
        (1, 3, (1.0, 0.0), True),  # hidden one frame
        (0, 3, (1.0, 0.0), False),  # seen on the last frame: it cannot be 3 widths away now
        (1, 3, None, False),  # no embedding: nothing to recognise it by
    ],
)
def test_a_face_back_after_hiding_is_recognised_by_its_appearance_within_reach(hidden, widths_off, embedding, same):
    tracker = Tracker(WIDTH, HEIGHT)
    owner = hidden_walker(tracker, hidden)
    frame = 4 + hidden
    expected = 130 + 10 * (hidden + 1)
    face = None if embedding is None else np.array(embedding)
    update = tracker.update([Detected(tall(expected + 60 * widths_off), 0.9, face)], frame)
    assert (update.matched[0] == owner) == same


def test_of_two_hidden_faces_a_face_back_goes_to_the_nearer_one():
    tracker = Tracker(WIDTH, HEIGHT)
    face = np.array([1.0, 0.0])
    for frame in range(4):
        far, near = tracker.update(
            [Detected(tall(100), 0.9, face), Detected(tall(500), 0.9, face)], frame
        ).matched.values()
    for frame in (4, 5, 6):
        tracker.update([], frame)
    update = tracker.update([Detected(tall(400), 0.9, face)], 7)  # 1.7 widths from one, 5 from the other
    assert update.matched == {0: near}


def test_of_two_hidden_faces_a_face_back_goes_to_the_one_it_looks_like_though_a_little_farther():
    """Back after hiding, past both motion gates, the face is 2 widths from a (similarity 0.9) and
    1 from b (0.5): recognised on its appearance, a width farther costs only a quarter."""
    face = np.array([0.9, 0.19**0.5])
    turn = np.arccos(0.9) + np.pi / 3  # 60 degrees from the face: similarity 0.5
    look_a, look_b = np.array([1.0, 0.0]), np.array([np.cos(turn), np.sin(turn)])
    tracker = Tracker(WIDTH, HEIGHT)
    for frame in range(4):
        a, b = tracker.update(
            [Detected(tall(100), 0.9, look_a), Detected(tall(280), 0.9, look_b)], frame
        ).matched.values()
    for frame in (4, 5, 6):
        tracker.update([], frame)
    assert tracker.tracks[b].similarity(face) == pytest.approx(0.5)
    update = tracker.update([Detected(tall(220), 0.9, face)], 7)
    assert update.matched == {0: a}


def test_a_face_too_far_from_one_hidden_track_may_still_be_another_ones():
    tracker = Tracker(WIDTH, HEIGHT)
    face = np.array([1.0, 0.0])
    for frame in range(4):
        far, near = tracker.update(
            [Detected(tall(40), 0.9, face), Detected(tall(600), 0.9, face)], frame
        ).matched.values()
    tracker.update([], 4)
    update = tracker.update([Detected(tall(610), 0.9, face)], 5)  # 9.5 widths from the first track
    assert update.matched == {0: near}


def test_among_tracks_that_look_alike_the_nearer_one_wins():
    tracker = Tracker(WIDTH, HEIGHT)
    face = np.array([1.0, 0.0])
    for frame in range(4):
        a, b = tracker.update([Detected(tall(130), 0.9, face), Detected(tall(190), 0.9, face)], frame).matched.values()
    tracker.update([], 4)
    update = tracker.update([Detected(tall(170), 0.9, face)], 5)  # 0.67 widths from a, 0.33 from b
    assert update.matched == {0: b}


def test_a_face_exactly_like_a_tracks_appearance_costs_no_more_than_its_motion():
    """b has no appearance (none of its faces was scored): its cost is its motion alone; a's is its
    motion plus the embedding's distance, 0 for the same face, so the nearer a wins."""
    tracker = Tracker(WIDTH, HEIGHT)
    for frame in range(4):
        detections = [Detected(tall(100), 0.9, np.array([1.0, 0.0])), Detected(tall(140), 0.9)]
        a, b = tracker.update(detections, frame).matched.values()
    tracker.update([], 4)
    update = tracker.update([Detected(tall(112), 0.9, np.array([1.0, 0.0]))], 5)  # 0.2 from a, 0.47 from b
    assert update.matched == {0: a}
    assert tracker.tracks[b].appearance is None


def test_a_face_whose_first_choice_is_taken_goes_to_its_second():
    tracker = Tracker(WIDTH, HEIGHT)
    for frame in range(4):
        a, b = tracker.update(
            [Detected(box_at(100, 150), 0.9), Detected(box_at(150, 150), 0.9)], frame
        ).matched.values()
    tracker.update([], 4)
    # the first face is 0.1 widths from a; the second 0.3 from a (taken) and 0.53 from b
    update = tracker.update([Detected(box_at(94, 150), 0.9), Detected(box_at(118, 150), 0.9)], 5)
    assert update.matched == {0: a, 1: b}


@pytest.mark.parametrize(
    "second,new",
    [
        ([350, 110, 390, 150], False),  # inside the first face's box: the same face found twice
        ([380, 110, 420, 150], True),  # half inside: another face
        ([280, 110, 320, 150], True),
        ([500, 110, 540, 150], True),
    ],
)
def test_a_box_mostly_inside_a_matched_face_starts_no_track(second, new):
    tracker = Tracker(WIDTH, HEIGHT)
    update = tracker.update(
        [Detected(np.array([300.0, 100, 400, 160]), 0.9), Detected(np.array(second, float), 0.8)], 0
    )
    assert update.new == ([0, 1] if new else [0]) and (1 in update.matched) == new


def test_a_face_moving_out_but_still_mostly_visible_is_waited_for_as_long_as_a_hidden_one():
    tracker = Tracker(WIDTH, HEIGHT, max_missing=10, edge_missing=1)
    owner = follow(tracker, [590, 600, 610, 620], box=box_at)  # its last box 5/6 inside
    assert tracker.update([], 4).ended == []  # expected 2/3 inside
    assert tracker.update([], 5).ended == []  # half inside
    assert [t.id for t in tracker.update([], 6).ended] == [owner]  # a third: on its way out, past edge_missing


def test_a_face_standing_partly_outside_is_waited_for_as_long_as_a_hidden_one():
    tracker = Tracker(WIDTH, HEIGHT, max_missing=10, edge_missing=1)
    owner = follow(tracker, [650, 650, 650, 650], box=box_at)  # a third inside, not moving
    for frame in range(4, 14):
        assert tracker.update([], frame).ended == []
    assert [t.id for t in tracker.update([], 14).ended] == [owner]
