"""moto's server with DynamoDB's isolation: what scripts/moto.sh and bridge-infra run.

moto applies a TransactWriteItems item by item and, when one condition fails, restores a
copy of every table it touched taken when it began: a write another request committed
in between is erased. Its UpdateItem of an item that does not exist yet creates it, so two
racing updates both create it and the second drops what the first set. DynamoDB does
neither: a transaction is serializable and a single item's write is atomic. Left alone,
moto loses writes under concurrency that AWS keeps (the chaos run saw a newer price
revision erased by a stale one's cancelled transaction), which would hide our defects
behind its own. So the backend's item reads and writes run one at a time here.

moto's S3 event notifications also leave out the object's `versionId` (and `sequencer`),
which S3 sends for every object created in a versioned bucket: a consumer that reads the
version it was notified of would read "the current one" here and could skip an upload
that was overwritten before its notification was handled. The events get the version
here, as S3 sends it. Nothing else of moto changes.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.s3 import notifications as s3_notifications
from moto.server import main

_ONE_AT_A_TIME = threading.RLock()


def _serialized(method):
    @functools.wraps(method)
    def run(*args, **kwargs):
        with _ONE_AT_A_TIME:
            return method(*args, **kwargs)

    return run


for _name in (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "get_item",
    "query",
    "scan",
):
    setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))

_s3_event = s3_notifications._get_s3_event


def _s3_event_with_version(event_name, bucket, key, notification_id):
    event = _s3_event(event_name, bucket, key, notification_id)
    version = getattr(key, "version_id", None)
    if version and version != "null":
        for record in event["Records"]:
            record["s3"]["object"]["versionId"] = version
    return event


s3_notifications._get_s3_event = _s3_event_with_version

if __name__ == "__main__":
    sys.exit(main())
