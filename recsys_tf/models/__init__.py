"""Models of the suite and the registry the experiment entry point reads."""

from recsys_tf.models.base import CTRModel, RetrievalModel, SequenceCTRModel
from recsys_tf.models.baselines.autoint import AutoInt
from recsys_tf.models.baselines.dcn import DCN
from recsys_tf.models.baselines.deepfm import DeepFM
from recsys_tf.models.baselines.dien import DIEN
from recsys_tf.models.baselines.din import DIN
from recsys_tf.models.baselines.fm import FM
from recsys_tf.models.baselines.logistic_regression import LogisticRegression
from recsys_tf.models.baselines.pnn import PNN
from recsys_tf.models.baselines.popularity import Popularity
from recsys_tf.models.baselines.wide_deep import WideDeep
from recsys_tf.models.baselines.youtube_dnn import YouTubeDNN

MODELS = {
    "logistic_regression": LogisticRegression,
    "wide_deep": WideDeep,
    "fm": FM,
    "pnn": PNN,
    "deepfm": DeepFM,
    "popularity": Popularity,
    "youtube_dnn": YouTubeDNN,
    "dcn": DCN,
    "autoint": AutoInt,
    "din": DIN,
    "dien": DIEN,
}

__all__ = [
    "MODELS",
    "CTRModel",
    "RetrievalModel",
    "SequenceCTRModel",
    "AutoInt",
    "DCN",
    "DeepFM",
    "FM",
    "LogisticRegression",
    "PNN",
    "Popularity",
    "WideDeep",
    "YouTubeDNN",
    "DIN",
    "DIEN",
]
