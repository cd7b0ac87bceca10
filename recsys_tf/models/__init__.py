"""Models of the suite and the registry the experiment entry point reads."""

from recsys_tf.models.base import (
    CTRModel,
    PairwiseModel,
    RetrievalModel,
    SequenceCTRModel,
    SequentialRetrievalModel,
)
from recsys_tf.models.baselines.autoint import AutoInt
from recsys_tf.models.baselines.autoint_umn import AutoIntUMN
from recsys_tf.models.baselines.binn import BINN
from recsys_tf.models.baselines.bpr import BPR
from recsys_tf.models.baselines.caser import Caser
from recsys_tf.models.baselines.dcn import DCN
from recsys_tf.models.baselines.deepfm import DeepFM
from recsys_tf.models.baselines.dfn import DFN
from recsys_tf.models.baselines.dien import DIEN
from recsys_tf.models.baselines.din import DIN
from recsys_tf.models.baselines.dmt import DMT
from recsys_tf.models.baselines.dsin import DSIN
from recsys_tf.models.baselines.fm import FM
from recsys_tf.models.baselines.gru4rec import GRU4Rec
from recsys_tf.models.baselines.hpmn import HPMN
from recsys_tf.models.baselines.logistic_regression import LogisticRegression
from recsys_tf.models.baselines.mfpr import MFPR
from recsys_tf.models.baselines.narm import NARM
from recsys_tf.models.baselines.neumf import NeuMF
from recsys_tf.models.baselines.pnn import PNN
from recsys_tf.models.baselines.popularity import Popularity
from recsys_tf.models.baselines.sasrec import SASRec
from recsys_tf.models.baselines.sdm import SDM
from recsys_tf.models.baselines.shan import SHAN
from recsys_tf.models.baselines.wide_deep import WideDeep
from recsys_tf.models.baselines.wmf import WMF
from recsys_tf.models.baselines.youtube_dnn import YouTubeDNN
from recsys_tf.models.dumn import DUMN
from recsys_tf.models.mf_mlp import MFMLP

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
    "autoint_umn": AutoIntUMN,
    "mf_mlp": MFMLP,
    "bpr": BPR,
    "wmf": WMF,
    "neumf": NeuMF,
    "mfpr": MFPR,
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "caser": Caser,
    "narm": NARM,
    "shan": SHAN,
    "sdm": SDM,
    "hpmn": HPMN,
    "binn": BINN,
    "dsin": DSIN,
    "dfn": DFN,
    "dmt": DMT,
    "din": DIN,
    "dien": DIEN,
    "dumn": DUMN,
}

__all__ = [
    "AutoIntUMN",
    "BPR",
    "DCN",
    "DFN",
    "DIEN",
    "DIN",
    "DMT",
    "DSIN",
    "DUMN",
    "FM",
    "MFMLP",
    "MFPR",
    "MODELS",
    "NARM",
    "PNN",
    "SDM",
    "SHAN",
    "WMF",
    "AutoInt",
    "CTRModel",
    "Caser",
    "DeepFM",
    "GRU4Rec",
    "HPMN",
    "BINN",
    "LogisticRegression",
    "NeuMF",
    "PairwiseModel",
    "Popularity",
    "RetrievalModel",
    "SASRec",
    "SequenceCTRModel",
    "SequentialRetrievalModel",
    "WideDeep",
    "YouTubeDNN",
]
