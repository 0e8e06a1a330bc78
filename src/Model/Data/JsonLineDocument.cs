using System.Text.Json;

namespace LifelongMoE.Model.Data;

/// <summary>Extracts the document text from one line of a JSON Lines corpus.</summary>
internal static class JsonLineDocument
{
    /// <exception cref="CorpusException">
    /// The line is not a JSON object with a string <paramref name="field"/>.
    /// </exception>
    public static string Text(string line, string field, string path, long lineNumber)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new CorpusException(path, $"not valid JSON ({e.Message})", lineNumber, e);
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CorpusException(path, $"expected a JSON object, found {root.ValueKind}", lineNumber);

            if (!root.TryGetProperty(field, out var text))
                throw new CorpusException(path, $"the object has no \"{field}\" field", lineNumber);

            if (text.ValueKind != JsonValueKind.String)
            {
                var problem = $"field \"{field}\" is {text.ValueKind}, expected a string";
                throw new CorpusException(path, problem, lineNumber);
            }

            return text.GetString()!;
        }
    }
}
