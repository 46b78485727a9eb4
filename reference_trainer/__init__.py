"""The reference trainer and quantizer of pgolf-audit (`pgolf-train`).

Modules, in reading order: config (the run's settings), loglines (the train-log grammar), runtime (device
and torchrun process group), data (challenge shards, loader, `prepare`), quant (quantizer math), model
(the GPT), optim (Muon, AdamW, schedules, EMA/SWA), evaluate (exact BPB, sliding windows), calibrate
(GPTQ Hessians), artifact (the compressed artifact), ttt (legal score-first TTT), console (rich output),
export (after the loop: quantize, serialize, score), train (one run), cli (`pgolf-train`).

Nothing here imports the `auditor` package, and nothing is imported at package level, so
`pgolf-train pack` can bundle the modules into one train_gpt.py.
"""
