# recsys_tf: every command a user needs. The first target that needs Python
# creates .venv and installs the pinned packages of setup.cfg; later runs reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 0 1 2
SIZE ?= small
DATA := data/synthetic_$(SIZE)
RUNS ?= runs
TB_HOST ?= localhost
TB_PORT ?= 6006
RUFF_FLAGS := --line-length 88 --select E,F,W,I,B,UP --ignore E501,B905,B028 --exclude .venv,runs,data
export PYTHONPATH := $(CURDIR)

.PHONY: install test test-record test-slow lint reproduce-foundation reproduce-real-data reproduce-ctr reproduce-headroom reproduce-ctr-sequence reproduce-dumn reproduce-dumn-ablations reproduce-mfmlp reproduce-mfmlp-analyses reproduce-sequential describe-data data bench tensorboard summarize clean

$(STAMP): setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q $$($(PYTHON) -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'], c['options.extras_require']['test'])")
	touch $(STAMP)

install: $(STAMP)

# The suite runs as TEST_SHARDS pytest processes side by side (tests/run_shards.py; the
# split, balanced on the seconds per file recorded in tests/durations.json, is in
# tests/conftest.py): on this 2-core machine two processes overlap one's Python and
# tracing with the other's kernels. TEST_SHARDS=1 is one plain pytest run.
# `make test-record` runs the suite the same way and rewrites tests/durations.json.
TEST_SHARDS ?= 2
test: $(STAMP)
	$(PY) -m tests.run_shards --shards=$(TEST_SHARDS) -- -q --durations=15

test-record: $(STAMP)
	$(PY) -m tests.run_shards --shards=$(TEST_SHARDS) --record -- -q --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]  # 5: no test is marked slow yet

lint: $(STAMP)
	$(PY) -m ruff check $(RUFF_FLAGS) .
	$(PY) -m ruff format --check --line-length 88 --exclude .venv,runs,data .

data/synthetic_%/events.parquet: | $(STAMP)
	$(PY) -m data_prep.synthetic --size=$* --seed=0 --output=data/synthetic_$*

data: $(DATA)/events.parquet

# The foundation's two models and their baselines on the simulator (small size), 3 seeds each.
# One config per model (experiments/configs/<model>.py); a run is named <model>_<dataset>
# (results.json `run`), here <model>_synthetic, and trains in $(RUNS)/<run>/seed<k>.
# A finished run is not retrained (its workdir resumes and only re-evaluates): `make clean` first
# to start over.
FOUNDATION_CONFIGS := logistic wide_deep oracle_ctr popularity youtube_dnn oracle_retrieval
reproduce-foundation: $(DATA)/events.parquet
	@for config in $(FOUNDATION_CONFIGS); do for seed in $(SEEDS); do \
	  $(PY) -m experiments.train --config=experiments/configs/$$config.py \
	    --config.data.path=$(DATA) --config.seed=$$seed \
	    --workdir=$(RUNS)/$${config}_synthetic/seed$$seed || exit 1; \
	done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# The same models on the real datasets held in ../shared/datasets (or $$RECSYS_TF_DATASETS),
# converted into data/<name> on first use, 3 seeds each: ML-1M (users 1-2999, the held ratings
# with timestamps) and KuaiRand-Pure for CTR and retrieval, Taobao UserBehavior (no impressions,
# so no CTR label) for retrieval. The same model configs; the dataset is an override.
REAL_RUNS ?= ml1m:logistic ml1m:wide_deep ml1m:popularity ml1m:youtube_dnn \
	kuairand:logistic kuairand:wide_deep kuairand:popularity kuairand:youtube_dnn \
	taobao_userbehavior:popularity taobao_userbehavior:youtube_dnn
reproduce-real-data: $(STAMP)
	@for run in $(REAL_RUNS); do dataset=$${run%%:*}; model=$${run##*:}; for seed in $(SEEDS); do \
	  $(PY) -m experiments.train --config=experiments/configs/$$model.py \
	    --config.data.name=$$dataset --config.seed=$$seed \
	    --workdir=$(RUNS)/$${model}_$$dataset/seed$$seed || exit 1; \
	done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# AutoDenoise's backbones on its ML-1M protocol (preset autodenoise_ml1m: all 1,000,209 ratings,
# label rating > 3, user and movie id, seeded random 80/10/10), 3 seeds each, beside AutoDenoise
# Table 1's "w/o" row (README "AutoDenoise backbones on ML-1M"), then LR, OPNN, DCN-v2, AutoInt.
# Then the same models on KuaiRand-Pure (click label, global time split,
# every field of the configs), README "Feature-interaction CTR models on KuaiRand-Pure".
# Each entry is run:config[:model override]; the run is named <run>_ml1m_all / <run>_kuairand.
CTR_RUNS ?= logistic:logistic fm:fm wide_deep:wide_deep dcn:dcn pnn:pnn deepfm:deepfm \
	opnn:pnn:product=outer dcn_v2:dcn:cross=v2 autoint:autoint
CTR_DATASETS ?= ml1m_all kuairand
reproduce-ctr: $(STAMP)
	@for dataset in $(CTR_DATASETS); do \
	  if [ $$dataset = ml1m_all ]; then preset=:autodenoise_ml1m; data=; \
	  else preset=; data=--config.data.name=$$dataset; fi; \
	  for entry in $(CTR_RUNS); do name=$${entry%%:*}; rest=$${entry#*:}; config=$${rest%%:*}; \
	  override=$${rest#$$config}; override=$${override#:}; for seed in $(SEEDS); do \
	  $(PY) -m experiments.train --config=experiments/configs/$$config.py$$preset $$data \
	    --config.name=$$name $${override:+--config.model.$$override} \
	    --config.seed=$$seed --config.train.verbose=2 \
	    --workdir=$(RUNS)/$${name}_$$dataset/seed$$seed || exit 1; \
	done; done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# DUMN Table 1's protocol as a shell fragment, used by reproduce-dumn and, on real data, by
# reproduce-ctr-sequence: $(call table1_runs,<dataset>,<configs>,<flags>) trains each config
# on <dataset> (synthetic = the compact simulator DUMN_SIZE under the preset dumn_table1,
# plus the oracle; kuairand = KuaiRand-Pure under the preset dumn_table1_kuairand; each
# preset's learning rates, chosen on its validation split, in each config's TUNED; else a
# registered dataset name, at the configs' defaults) for $(SEEDS) seeds, seed by seed (an interrupted
# target still gives every row its first seeds), at most DUMN_EPOCHS epochs with the
# configs' early stopping, runs <config>_table1_<dataset>.
table1_runs = if [ "$(1)" = synthetic ]; then data=--config.data.path=data/synthetic_$(DUMN_SIZE); \
	  preset=:dumn_table1; extra=oracle_ctr; \
	elif [ "$(1)" = kuairand ]; then data=; preset=:dumn_table1_kuairand; extra=; \
	else data=--config.data.name=$(1); preset=; extra=; fi; \
	for seed in $(SEEDS); do for config in $(2) $$extra; do \
	  $(PY) -m experiments.train --config=experiments/configs/$$config.py$$preset $$data \
	    --config.name=$${config}_table1 --config.seed=$$seed --config.train.verbose=2 \
	    --config.train.epochs=$(DUMN_EPOCHS) $(3) \
	    --workdir=$(RUNS)/$${config}_table1_$(1)/seed$$seed || exit 1; \
	done; done

# DUMN Table 1's baselines (issue 19; README "Behaviour-sequence CTR"): the non-sequence
# models (Wide&Deep, PNN, DeepFM, AutoInt; task ctr) and the sequence models (DIN, DIEN,
# DSIN, DFN, DMT; task ctr_sequence) on the simulator (size $(SIZE)) and KuaiRand-Pure, on
# the same CTR instances and split (the sequence task adds windows to the CTR task's
# instances), $(SEEDS) seeds, plus the oracle on the simulator. On the simulator, runs
# <config>_synthetic (Wide&Deep and the oracle are those of reproduce-foundation: a
# finished run only re-evaluates). On real data the protocol is reproduce-dumn's (the same
# instances, split and epochs), so the runs are its <config>_table1_<dataset>, trained
# once for both tables, at the learning rates chosen on KuaiRand's validation under
# the preset dumn_table1_kuairand (each config's TUNED; the configs' defaults where
# no sweep ran there yet). On the simulator (size small) the configs' defaults.
# CTRSEQ_FLAGS adds flags to every run.
CTRSEQ_RUNS ?= wide_deep pnn deepfm din dien dsin autoint dfn dmt
CTRSEQ_DATASETS ?= synthetic kuairand
CTRSEQ_FLAGS ?=
# oneDNN's CPU kernels (TensorFlow reads TF_ENABLE_ONEDNN_OPTS when it is imported): on
# this AVX2 machine they train the behaviour-sequence and sequential models 1.2-1.8x faster
# than Eigen's and the plain CTR models 11-22% slower (README "Throughput"), so the targets
# that train sequence models turn them on; a value in the environment wins.
ONEDNN_TARGETS := reproduce-ctr-sequence reproduce-dumn reproduce-dumn-ablations reproduce-sequential
$(ONEDNN_TARGETS): export TF_ENABLE_ONEDNN_OPTS ?= 1

reproduce-ctr-sequence: $(DATA)/events.parquet
	@for dataset in $(CTRSEQ_DATASETS); do \
	  if [ $$dataset != synthetic ]; then \
	    ( $(call table1_runs,$$dataset,$(CTRSEQ_RUNS),$(CTRSEQ_FLAGS)) ) || exit 1; \
	    continue; \
	  fi; \
	  for config in $(CTRSEQ_RUNS) oracle_ctr; do for seed in $(SEEDS); do \
	    $(PY) -m experiments.train --config=experiments/configs/$$config.py \
	      --config.data.path=$(DATA) \
	      --config.seed=$$seed --config.train.verbose=2 $(CTRSEQ_FLAGS) \
	      --workdir=$(RUNS)/$${config}_$$dataset/seed$$seed || exit 1; \
	  done; done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Is there sequence signal to find on the simulator? (issue 19; README "Sequence signal on
# the simulator"): the predictors of experiments/headroom.py, Wide&Deep, DIN and the oracle
# on the same test instances, for the default simulator and for request_stay=0.9 (runs
# tagged stay09, data $(DATA)_stay09). DIN here is a quick look (T = 20, 2 epochs, batch
# 4096), seed 0; Wide&Deep and the oracle are the foundation's runs on the default.
HEADROOM_DIN_FLAGS := --config.data.max_length=20 --config.train.batch_size=4096 \
	--config.train.epochs=2
$(DATA)_stay09/events.parquet: | $(STAMP)
	$(PY) -m data_prep.synthetic --size=$(SIZE) --seed=0 --set=request_stay=0.9 \
	  --output=$(DATA)_stay09

reproduce-headroom: $(DATA)/events.parquet $(DATA)_stay09/events.parquet
	@for tag in "" _stay09; do \
	  $(PY) -m experiments.headroom --data_path=$(DATA)$$tag --tag=$${tag#_} \
	    --runs=$(RUNS) || exit 1; \
	  for config in wide_deep oracle_ctr; do \
	    $(PY) -m experiments.train --config=experiments/configs/$$config.py \
	      --config.data.path=$(DATA)$$tag --config.name=$$config$$tag --config.seed=0 \
	      --workdir=$(RUNS)/$$config$${tag}_synthetic/seed0 || exit 1; \
	  done; \
	  $(PY) -m experiments.train --config=experiments/configs/din.py $(HEADROOM_DIN_FLAGS) \
	    --config.data.path=$(DATA)$$tag --config.name=din_headroom$$tag --config.seed=0 \
	    --config.train.verbose=2 --workdir=$(RUNS)/din_headroom$${tag}_synthetic/seed0 \
	    || exit 1; \
	done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Table 4 of the multiple-implicit-feedback paper (MF + M-MLP, issue 22): ours against MFPR,
# BPR, WMF and NCF (NeuMF) on the small simulator and on Taobao UserBehavior (the 814 users held
# here, not the paper's 19,576: the numbers are not comparable), 3 seeds (the paper ran 10).
# Each entry is run:config[:key=value[+key=value...]] (dotted config keys); the run is named
# <run>_<dataset> (synthetic or taobao_userbehavior). mf_mlp_random is the paper's control:
# random negatives (Section 3.1). Taobao's 777 training pairs take mini-batches of 32 (256
# would make 3 Adam steps an epoch).
MFMLP_RUNS ?= mf_mlp:mf_mlp bpr:bpr wmf:wmf neumf:neumf mfpr:mfpr \
	mf_mlp_random:mf_mlp:data.negative_sampler=random
MFMLP_DATASETS ?= synthetic taobao_userbehavior
define mfmlp_train
	@for entry in $(1); do name=$${entry%%:*}; rest=$${entry#*:}; config=$${rest%%:*}; \
	  overrides=$${rest#$$config}; overrides=$${overrides#:}; args=; \
	  for o in $${overrides//+/ }; do args="$$args --config.$$o"; done; \
	  for dataset in $(MFMLP_DATASETS); do \
	  if [ $$dataset = synthetic ]; then data=--config.data.path=$(DATA); \
	  else data="--config.data.name=$$dataset --config.train.batch_size=32"; fi; \
	  for seed in $(SEEDS); do \
	  $(PY) -m experiments.train --config=experiments/configs/$$config.py \
	    --config.name=$$name $$args $$data --config.seed=$$seed --config.train.verbose=2 \
	    --workdir=$(RUNS)/$${name}_$$dataset/seed$$seed || exit 1; \
	done; done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md
endef
reproduce-mfmlp: $(DATA)/events.parquet
	$(call mfmlp_train,$(MFMLP_RUNS))

# The paper's analyses of our model, each cell a run of the mf_mlp config with overrides (the
# default cell, 4 factors / ng-3 / 2 layers, is reproduce-mfmlp's mf_mlp run): Table 2 (factors
# 2-32), Table 3 (negatives per positive 1-4 x factors 4, 8, 16) and Figure 3 (0-4 layers per
# branch, validation HR@10 per epoch drawn into experiments/results/figures/ by summarize).
# e.g. SEEDS=0 MFMLP_DATASETS=synthetic for one seed on the simulator.
MFMLP_TABLE2 := $(foreach f,2 8 16 32,mf_mlp_f$(f)_ng3:mf_mlp:model.factors=$(f))
MFMLP_TABLE3 := $(foreach x,1 2 4,$(foreach f,4 8 16,\
	mf_mlp_f$(f)_ng$(x):mf_mlp:model.factors=$(f)+data.num_negatives=$(x)))
MFMLP_FIGURE3 := $(foreach l,0 1 3 4,mf_mlp_l$(l):mf_mlp:model.num_layers=$(l))
MFMLP_ANALYSES ?= $(MFMLP_FIGURE3) $(MFMLP_TABLE2) $(MFMLP_TABLE3)
reproduce-mfmlp-analyses: $(DATA)/events.parquet
	$(call mfmlp_train,$(MFMLP_ANALYSES))

# DUMN Table 1 (issue 21; README "DUMN Table 1"): DUMN and the nine baselines of its
# Table 1 (Wide&Deep, PNN, DeepFM, AutoInt on the CTR task; DIN, DIEN, DSIN, DFN, DMT and
# DUMN on the behaviour-sequence task; the same instances and split), $(SEEDS) seeds taken
# seed by seed (an interrupted target still gives every row its first seeds), plus the
# oracle on the simulator. DATASET=synthetic (default): the compact simulator (DUMN_SIZE,
# 120,000 impressions of 300 users: the ten models' three seeds on a 2-core CPU);
# DATASET=kuairand: KuaiRand-Pure. At most DUMN_EPOCHS epochs, with the configs' early
# stopping (patience 3; the epoch of best validation AUC is kept); DUMN_FLAGS adds flags
# to every run. Runs <config>_table1_<dataset>.
DUMN_MODELS ?= dumn wide_deep pnn deepfm autoint din dsin dfn dien dmt
DUMN_SIZE ?= compact
DUMN_EPOCHS ?= 20
DUMN_FLAGS ?=
DATASET ?= synthetic
reproduce-dumn: data/synthetic_$(DUMN_SIZE)/events.parquet
	@$(call table1_runs,$(DATASET),$(DUMN_MODELS),$(DUMN_FLAGS))
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# DUMN's ablations (issue 21; README "DUMN ablations"), on reproduce-dumn's data and epochs
# (DATASET, DUMN_SIZE, DUMN_EPOCHS, DUMN_FLAGS), each entry config:preset, run
# <config>_<preset>_table1_<dataset> (an entry without a preset is a config of its own, run
# <config>_table1_<dataset>): Table 2 (no_umn, umn1), Table 3 (AutoInt+UMN: autoint_umn,
# and its control without the memory, ours: autoint_umn:no_memory; DFN+UMN: dfn:umn),
# Table 4 (PAIR replaced by concat, cross, ffn, atte), Table 5 (no_tl, rs), Table 6 (if, af), DUMN-FP (no_fp) and Table 7
# (dislike prediction: the presets dislike of dfn.py and dumn.py; a dataset without
# dislike cannot run them), $(SEEDS) seeds, seed by seed. Then Figure 2's grid of
# m x Z (DUMN_GRID each, DUMN_GRID_SEEDS; the cell m = 256, Z = 64 is reproduce-dumn's DUMN
# run), runs dumn_m<m>_z<Z>_table1_<dataset>, drawn as a heat map
# (experiments/results/figures/dumn_figure2_<dataset>.png). The full-model rows are
# reproduce-dumn's runs: run it first.
DUMN_ABLATIONS ?= dumn:eq9 dumn:no_umn dumn:umn1 autoint_umn autoint_umn:no_memory dfn:umn dumn:concat dumn:cross dumn:ffn \
	dumn:atte dumn:no_tl dumn:rs dumn:if dumn:af dumn:no_fp dfn:dislike dumn:dislike
DUMN_GRID ?= 16 32 64 128 256
DUMN_GRID_SEEDS ?= 0
reproduce-dumn-ablations: data/synthetic_$(DUMN_SIZE)/events.parquet
	@if [ "$(DATASET)" = synthetic ]; then data=--config.data.path=data/synthetic_$(DUMN_SIZE); \
	protocol=dumn_table1; elif [ "$(DATASET)" = kuairand ]; then data=; \
	protocol=dumn_table1_kuairand; else data=--config.data.name=$(DATASET); protocol=; fi; \
	common="$$data --config.train.verbose=2 --config.train.epochs=$(DUMN_EPOCHS) $(DUMN_FLAGS)"; \
	for seed in $(SEEDS); do for entry in $(DUMN_ABLATIONS); do \
	  config=$${entry%%:*}; preset=$${entry#$$config}; name=$${config}$${preset/:/_}_table1; \
	  spec=$${preset#:}; spec=$$spec$${spec:+$${protocol:++}}$$protocol; \
	  $(PY) -m experiments.train --config=experiments/configs/$$config.py$${spec:+:$$spec} $$common \
	    --config.name=$$name --config.seed=$$seed \
	    --workdir=$(RUNS)/$${name}_$(DATASET)/seed$$seed || exit 1; \
	done; done; \
	for seed in $(DUMN_GRID_SEEDS); do for m in $(DUMN_GRID); do for z in $(DUMN_GRID); do \
	  if [ $$m = 256 ] && [ $$z = 64 ]; then continue; fi; name=dumn_m$${m}_z$${z}_table1; \
	  $(PY) -m experiments.train --config=experiments/configs/dumn.py$${protocol:+:$$protocol} $$common \
	    --config.model.num_slots=$$m --config.model.slot_dim=$$z \
	    --config.name=$$name --config.seed=$$seed \
	    --workdir=$(RUNS)/$${name}_$(DATASET)/seed$$seed || exit 1; \
	done; done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Sequential recommenders (issue 20), 3 seeds each: S3-Rec's Amazon Beauty files under its
# protocol (preset s3rec_beauty: leave-one-out, history 50) with 99 sampled negatives (runs
# <model>_amazon_beauty) and its full-ranking protocol (preset s3rec_beauty_full: the user's
# earlier items excluded, selection on NDCG@20; runs <model>_full_amazon_beauty), then ML-1M
# users 1-2999 under the same full-ranking protocol (preset loo_full, which leaves out the
# models' Beauty-specific values, e.g. SDM's id-only items and 50-item sessions; runs
# <model>_loo_ml1m: leave-one-out, not the foundation's time split of <model>_ml1m). README tables sequential_beauty_sampled / _full / _ml1m.
# SEQ_FLAGS adds flags to every run, e.g. --config.train.bucket_batches=50 (rows of similar
# lengths batched together: about 3x faster epochs, but other batches and other numbers:
# GRU4Rec on Beauty lost 0.03 validation HR@10 with it, README "Sequential recommenders"; the
# models that are not cut per batch, e.g. Caser, NARM, SDM, get the bucketed batches too, and
# no speed-up).
# Then Caser trained as its authors' code (caser.py:code; runs caser_code_amazon_beauty,
# 99 sampled negatives), beside the Caser row, and SASRec with S3-Rec's own settings
# (sasrec.py:s3rec: hidden 64, 2 heads, BERT blocks, selection on MRR; runs
# sasrec_s3rec_amazon_beauty, measured with random batches: no bucket_batches in
# SEQ_FLAGS), beside the SASRec row: SEQ_DIAGNOSTICS= skips them.
SEQ_MODELS ?= sasrec gru4rec caser narm shan hpmn binn sdm popularity
SEQ_DIAGNOSTICS ?= caser:code sasrec:s3rec
SEQ_FLAGS ?=
reproduce-sequential: $(STAMP)
	@for model in $(SEQ_MODELS); do for seed in $(SEEDS); do \
	  $(PY) -m experiments.train --config=experiments/configs/$$model.py:s3rec_beauty \
	    --config.seed=$$seed --config.train.verbose=2 $(SEQ_FLAGS) \
	    --workdir=$(RUNS)/$${model}_amazon_beauty/seed$$seed || exit 1; \
	  $(PY) -m experiments.train --config=experiments/configs/$$model.py:s3rec_beauty_full \
	    --config.name=$${model}_full \
	    --config.seed=$$seed --config.train.verbose=2 $(SEQ_FLAGS) \
	    --workdir=$(RUNS)/$${model}_full_amazon_beauty/seed$$seed || exit 1; \
	  $(PY) -m experiments.train --config=experiments/configs/$$model.py:loo_full \
	    --config.data.name=ml1m --config.name=$${model}_loo \
	    --config.seed=$$seed --config.train.verbose=2 $(SEQ_FLAGS) \
	    --workdir=$(RUNS)/$${model}_loo_ml1m/seed$$seed || exit 1; \
	done; done
	@for entry in $(SEQ_DIAGNOSTICS); do for seed in $(SEEDS); do \
	  model=$${entry%%:*}; variant=$${entry#*:}; \
	  $(PY) -m experiments.train --config=experiments/configs/$$model.py:$$variant+s3rec_beauty \
	    --config.seed=$$seed --config.train.verbose=2 $(SEQ_FLAGS) \
	    --workdir=$(RUNS)/$${model}_$${variant}_amazon_beauty/seed$$seed || exit 1; \
	done; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Statistics of every dataset held (README table "Datasets"): stats.json beside each dataset,
# and <name>.json in the repository's results folder for the table.
DESCRIBE_DATASETS ?= ml1m ml1m_all kuairand taobao_userbehavior
describe-data: $(DATA)/events.parquet
	@for dataset in $(DESCRIBE_DATASETS) $(DATA); do \
	  $(PY) -m data_prep.describe --output=experiments/results/datasets $$dataset || exit 1; done
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Grid search chosen on validation, test read for the winner only (experiments/sweep.py), e.g.
#   make sweep CONFIG=dcn PRESET=autodenoise_ml1m GRID="train.learning_rate=1e-3,3e-3 model.l2=0,1e-6"
# writes $(RUNS)/sweeps/<config>[_<preset>]/sweep.json and prints the chosen config lines.
# SWEEP_SEEDS=0,1,2 runs every point at each seed and selects on the mean; SWEEP_FLAGS adds
# flags (e.g. --metric=hr@10 --config.data.path=data/synthetic_small).
.PHONY: sweep
sweep: $(STAMP)
	$(PY) -m experiments.sweep --config=experiments/configs/$(CONFIG).py$(if $(PRESET),:$(PRESET)) \
	  $(foreach g,$(GRID),--grid=$(g)) $(if $(SWEEP_SEEDS),--seeds=$(SWEEP_SEEDS)) $(SWEEP_FLAGS) \
	  --workdir=$(RUNS)/sweeps/$(CONFIG)$(if $(PRESET),_$(PRESET))

summarize: $(STAMP)
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

# Training throughput (each model --repeats=3 times), inference latency, simulator and
# conversion benchmarks; e.g. BENCH_FLAGS="--data_sizes= --conversion_rows=" for training alone.
BENCH_FLAGS ?=
bench: $(STAMP)
	$(PY) -m experiments.bench --output=experiments/results/bench.json $(BENCH_FLAGS)
	$(PY) -m experiments.summarize --runs=$(RUNS) --results=experiments/results --readme=README.md

tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir=$(RUNS) --host=$(TB_HOST) --port=$(TB_PORT)

clean:
	rm -rf $(RUNS) data
