"""A Beam filesystem of a made-up scheme, ``testfs://`` over a local dir, that stands in for ``gs://`` and the like.

No cloud storage is reachable in the tests, so ``testfs:///abs/path`` is the local ``/abs/path`` seen through
Beam's ``FileSystems`` as a remote filesystem: the code that lists, reads, writes, renames and deletes remote
files is the code that runs for a real scheme; only Beam's own filesystem underneath differs. Importing this
module registers the scheme (Beam finds its filesystems among the subclasses of ``FileSystem``).
"""

from apache_beam.io.filesystem import FileMetadata, MatchResult
from apache_beam.io.localfilesystem import LocalFileSystem

SCHEME = "testfs://"


class RemoteStandIn(LocalFileSystem):
    """``testfs:///abs/path`` is the local ``/abs/path``: each call is LocalFileSystem's, with the scheme cut off."""

    @classmethod
    def scheme(cls):
        return "testfs"

    def match(self, patterns, limits=None):
        results = super().match([local(p) for p in patterns], limits)
        return [
            MatchResult(pattern, [FileMetadata(SCHEME + m.path, m.size_in_bytes, m.last_updated_in_seconds)
                                  for m in result.metadata_list])
            for pattern, result in zip(patterns, results)
        ]

    def create(self, path, *args, **kwargs):
        return super().create(local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(local(path), *args, **kwargs)

    def rename(self, sources, destinations):
        return super().rename([local(p) for p in sources], [local(p) for p in destinations])

    def mkdirs(self, path):
        return super().mkdirs(local(path))

    def exists(self, path):
        return super().exists(local(path))

    def delete(self, paths):
        # LocalFileSystem.delete matches through self.match, which answers in URLs: a plain one deletes
        return LocalFileSystem(None).delete([local(p) for p in paths])


def local(path):
    """The local path a ``testfs://`` URL stands for (any other path as it is)."""
    path = str(path)
    return path[len(SCHEME):] if path.startswith(SCHEME) else path
