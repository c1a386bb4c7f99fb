"""``doit dumpdb``: the dependency database of a tft_build project, task by task.

doit's own ``dumpdb`` opens the file of its ``--db-file`` option with
``dbm``, which cannot read the sqlite database tft_build keeps (nor find it:
doit's default name is not the project's), and fails with a traceback. This
one loads the project, so it knows the database, and prints what doit would:
each task's record, pretty-printed. Another doit project gets doit's own.
"""

import pprint

from doit.cmd_base import DoitCmdBase
from doit.cmd_dumpdb import DumpDB

from tft_build.commands.base import reader_gone
from tft_build.engine.pipeline import project_config


class DumpState(DoitCmdBase):
    """The doit command ``dumpdb``."""

    name = "dumpdb"
    doc_purpose = DumpDB.doc_purpose
    doc_usage = ""
    doc_description = "Prints each task's record in doit's dependency database (tft_build's sqlite file)."
    cmd_options = ()

    def _execute(self, dep_file):
        if project_config(self.task_list) is None:
            return DumpDB().execute({"dep_file": dep_file}, [])
        with reader_gone():
            self.outstream.write(f"sqlite3 database {dep_file}\n")
            for row in self.dep_manager.backend._conn.execute("select task_id, task_data from doit order by task_id"):
                self.outstream.write(f"{row['task_id']} -> {pprint.pformat(row['task_data'], indent=4, width=100)}\n")
        self.dep_manager.close()
        return 0
