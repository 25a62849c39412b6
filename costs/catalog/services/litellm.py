"""LiteLLM's price file (`model_prices_and_context_window.json`): its providers and keys as Heliox's.

LiteLLM names providers after its own integrations (`gemini`, `vertex_ai-language-models`,
`bedrock_converse`...); Heliox names the company that bills the call, as LLM calls are
logged (`google`, `aws`...). The rules, stated in the README ("LLM price catalog"):

- Provider: `HELIOX_PROVIDERS` maps LiteLLM's names; any `vertex_ai-*` is google, any
  `bedrock*` aws, any `azure*` azure; other providers keep LiteLLM's spelling.
- Model: the key without its provider prefix (`gemini/gemini-2.5-pro` -> `gemini-2.5-pro`,
  `vertex_ai/claude-sonnet-4` -> `claude-sonnet-4`), the prefix being the provider's
  name or the family it belongs to (`vertex_ai` for `vertex_ai-anthropic_models`,
  `bedrock` for `bedrock_converse`). Other slashes stay (`bedrock/us-east-1/...`).
- Duplicates (several keys give one Heliox provider and model) keep one entry, chosen
  by `rank`: an entry with prices of its own before an alias; then the LiteLLM provider
  listed first in `HELIOX_PROVIDERS` (the Gemini API before Vertex AI, Bedrock before
  Bedrock Converse); then the key written with its provider prefix, which is the key
  LiteLLM itself looks up first for that provider; then the key's text. File order
  never decides.
"""

# Heliox provider -> LiteLLM providers, in the order that settles a duplicate (first wins).
HELIOX_PROVIDERS = {
    "openai": ("openai", "text-completion-openai"),
    "anthropic": ("anthropic",),
    "google": ("gemini", "vertex_ai-language-models", "vertex_ai"),
    "aws": ("bedrock", "bedrock_converse", "bedrock_mantle", "amazon_nova", "sagemaker"),
    "azure": ("azure", "azure_ai", "azure_text"),
    "mistral": ("mistral", "codestral", "text-completion-codestral"),
    "deepseek": ("deepseek",),
    "cohere": ("cohere", "cohere_chat"),
    "fireworks_ai": ("fireworks_ai", "fireworks_ai-embedding-models"),
}
# Families whose every member maps to one Heliox provider (ranked after the members listed above).
FAMILIES = (("vertex_ai-", "google"), ("bedrock", "aws"), ("azure", "azure"))
_LISTED = {name: (heliox, rank) for heliox, names in HELIOX_PROVIDERS.items() for rank, name in enumerate(names)}


def heliox_provider(litellm_provider: str) -> str:
    """Heliox's name for a LiteLLM provider: `gemini` -> `google`, `bedrock_converse` -> `aws`."""
    if litellm_provider in _LISTED:
        return _LISTED[litellm_provider][0]
    for prefix, heliox in FAMILIES:
        if litellm_provider.startswith(prefix):
            return heliox
    return litellm_provider


def _provider_rank(litellm_provider: str) -> int:
    return _LISTED[litellm_provider][1] if litellm_provider in _LISTED else len(_LISTED)


def _same_family(head: str, litellm_provider: str) -> bool:
    """Is `head` (a key's first segment) the provider or the family it belongs to? `_` and `-` alike."""
    head, provider = head.replace("_", "-"), litellm_provider.replace("_", "-")
    return provider == head or provider.startswith(head + "-")


def model_name(key: str, litellm_provider: str) -> tuple[str, bool]:
    """The model as calls name it, and whether the key carried its provider prefix."""
    head, slash, rest = key.partition("/")
    if slash and rest and _same_family(head, litellm_provider):
        return rest, True
    return key, False


def rank(*, key: str, litellm_provider: str, prefixed: bool, alias: bool) -> tuple:
    """Sort key among entries that give one Heliox provider and model: the smallest wins."""
    return (alias, _provider_rank(litellm_provider), litellm_provider, not prefixed, key)
