"""`make bench`: every benchmark, each printing its table."""

from benchmarks import cold_start

if __name__ == "__main__":
    cold_start.main()
