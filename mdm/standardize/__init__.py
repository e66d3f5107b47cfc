"""Standardize Chinese B2B customer fields for matching: company names, 统一社会信用代码, phones, addresses.

Every ``standardize_*`` function takes a pandas Series and returns a DataFrame on the same index. The
work runs on the distinct values only (real data repeats) with Arrow compute kernels (RE2 regexes,
hash lookups) instead of per-value Python; the rare odd shapes (international phone numbers,
traditional characters, names of autonomous regions) take a Python path. No input value raises:
None, NaN, numbers, empty or huge strings, control characters and emoji all give a row.
String outputs are ``string[pyarrow]`` with <NA> for missing; flags are plain ``bool``.

- `customers`: `standardize_customers`, a frame of customer records → every standardized column (the entry
  point the run, the Spark engine and the match service call; exposed here);
- `names`: `standardize_names` (region, brand, trade, legal form, branch, institutions, English names);
- `codes`: `standardize_uscc` and the USCC, organization-code and 注册号 check characters;
- `phones`: `standardize_phones`; `addresses`: `standardize_addresses`;
- `regions`: administrative divisions as token vocabularies; `text`: NFKC, traditional → simplified;
- `arrow`: the Arrow plumbing they share (distinct values in, aligned columns out).

Each module's docstring lists the columns its standardizer gives.
"""

from mdm.standardize.customers import standardize_customers

__all__ = ["standardize_customers"]
