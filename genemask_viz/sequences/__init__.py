"""Sequences in: FASTA/TSV/CSV reading and validation, genome segments, the demo genome."""

from .demo import DEMO_MOTIFS, DemoGenome, demo_fasta_path, demo_genome
from .fasta import (ALPHABET, INVALID, CodeChunk, Record, codes_to_str, read_fasta, str_to_codes,
                    stream_fasta, write_fasta)
from .kmertext import kmers_to_seq, seq_to_kmers
from .segments import SegmentSpec, iter_segments, take_segments
from .tables import read_labelled, read_sequences

__all__ = ["DEMO_MOTIFS", "DemoGenome", "demo_fasta_path", "demo_genome", "ALPHABET", "INVALID",
           "CodeChunk", "Record", "codes_to_str", "read_fasta", "str_to_codes", "stream_fasta",
           "write_fasta", "kmers_to_seq", "seq_to_kmers", "SegmentSpec", "iter_segments",
           "take_segments", "read_labelled", "read_sequences"]
