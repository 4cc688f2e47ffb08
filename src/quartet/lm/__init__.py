"""The shared language-model core: tokenizer, model, generation, scoring, trainer, backends."""
