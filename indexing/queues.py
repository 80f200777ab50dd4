"""Celery task and queue names, as plain strings.

The CLI and the bots send tasks by name (so `indexing` and `bot` never import `workers`), and
the workers register their tasks under the same names: one list for all of them.
"""

# Queues: each has its own workers (`celery -A workers.celery_app worker -Q <queue>`).
INDEXING = "indexing"  # folder indexing and source syncs
ANSWERS = "answers"  # answers for the bots (KNOWHERE_ANSWER_RUNNER=celery)
TRAINING = "training"  # fine-tuning and alias switches, one at a time (--concurrency 1)

# Tasks.
INDEX_FOLDER = "knowhere.index_folder"
SYNC_SOURCE = "knowhere.sync_source"
SYNC_BATCH = "knowhere.sync_batch"
FINISH_SYNC = "knowhere.finish_sync"
SYNC_DIRECTORY = "knowhere.sync_directory"
ANSWER = "knowhere.answer"
TRAIN_EMBEDDER = "knowhere.train_embedder"
MAYBE_TRAIN_EMBEDDER = "knowhere.maybe_train_embedder"
PROMOTE_EMBEDDER = "knowhere.promote_embedder"
CLEAN_UP_EMBEDDERS = "knowhere.clean_up_embedders"
POST_GAPS_DIGEST = "knowhere.post_gaps_digest"

# Which queue each task goes to (tasks not listed go to INDEXING).
ROUTES = {
    ANSWER: ANSWERS,
    TRAIN_EMBEDDER: TRAINING,
    MAYBE_TRAIN_EMBEDDER: TRAINING,
    PROMOTE_EMBEDDER: TRAINING,
    CLEAN_UP_EMBEDDERS: TRAINING,
}
