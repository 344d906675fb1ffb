"""The tables of README.md, ANALYSIS_REPORT.md and docs/ from results/: the command line of
spine_synthseg/apps/doc_tables.py.

  python scripts/make_tables.py results > results/tables.md
  python scripts/make_tables.py results --fill README.md ANALYSIS_REPORT.md docs/lab_notebook.md docs/usage.md
"""

from spine_synthseg.apps.doc_tables import main

if __name__ == "__main__":
    main()
