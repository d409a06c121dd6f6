"""The video tracker and the best-shot choice on made-up detections: crossing, occlusion, entering, leaving."""

from __future__ import annotations

import numpy as np
import pytest

from fqe_onnx.video.shots import BestShots, Shot
from fqe_onnx.video.tracker import MIN_HITS, Detected, Tracker

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


def test_frames_not_looked_at_do_not_count_as_missing():
    tracker = Tracker(WIDTH, HEIGHT, max_missing=2)
    ids, _ = step(tracker, 0, [(box_at(300, 200), person(12))])
    for frame in range(1, 4):
        step(tracker, frame, [(box_at(300, 200), person(12))])
    for frame in range(4, 20):
        update = tracker.update([], frame, looked=set())
        assert update.ended == []
    assert ids[0] in tracker.tracks


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
