"""Faces in videos and live streams: follow each face, keep its best shots (see ``pipeline``)."""

from .pipeline import FaceRow, FaceVideo, FinishedTrack, RunStats, VideoSettings, track_faces
from .schedule import ScheduleSettings
from .shots import BestShots, Shot
from .source import VIDEO_ERROR_KINDS, ReaderSettings, VideoSourceError, expand_sources

__all__ = [
    "BestShots",
    "FaceRow",
    "FaceVideo",
    "FinishedTrack",
    "ReaderSettings",
    "RunStats",
    "ScheduleSettings",
    "Shot",
    "VIDEO_ERROR_KINDS",
    "VideoSettings",
    "VideoSourceError",
    "expand_sources",
    "track_faces",
]
