// Piscina worker for the worker_threads baseline: the paper's wordcount over one chunk of files.
import { wordcount } from './wordcount';

export default function count(files: string[]): Map<string, number> {
  return wordcount(files);
}
