"""An example consumer of rootfs-ci: its tasks, next to its own task and another library's collection."""

from pathlib import Path

from invocations import checks  # another task library (pyinvoke/invocations): invoke checks.lint, ...
from invoke import Collection, Context, task

from rootfs_ci.tasks import namespace

HERE = Path(__file__).resolve().parent


@task
def pages(c: Context) -> None:
    """List the site's pages (this project's own task; site.root is this project's own config key)."""
    root = HERE / c.config.site.root
    for page in sorted(root.rglob("*.html")):
        print(page.relative_to(root))


ns: Collection = namespace(HERE)
ns.add_task(pages)
ns.add_collection(checks)
