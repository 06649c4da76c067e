"""`make bench`: every benchmark, each printing its table."""

from benchmarks import cold_start, input_pipeline, training_throughput

if __name__ == "__main__":
    cold_start.main([])
    print()
    input_pipeline.main([])
    print()
    training_throughput.main([])
