"""``python -m bench`` (``make bench``): every benchmark, one after the other."""
from bench import ingest

if __name__ == "__main__":
    ingest.main()
