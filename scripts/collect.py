"""Run folders -> tables: the command line of spine_synthseg/apps/collect.py (its docstring lists the subcommands).

  python scripts/collect.py experiment RUNS RESULTS | headline RESULTS | runs ... | evaluation ... | qc ... | ...
"""

from spine_synthseg.apps.collect import main

if __name__ == "__main__":
    main()
