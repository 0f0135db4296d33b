package aepedge;

/**
 * Reads single fields of the compact JSON the library writes (no spaces), enough
 * for error objects and reports; results are handed to the caller as text for
 * the JSON library of its choice.
 */
final class Json {
    private Json() {}

    /** The unescaped value of {@code "key":"..."}, or null when absent or not a string. */
    static String string(String json, String key) {
        String needle = "\"" + key + "\":\"";
        int at = json.indexOf(needle);
        if (at < 0) return null;
        StringBuilder out = new StringBuilder();
        for (int i = at + needle.length(); i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '"') return out.toString();
            if (c == '\\' && i + 1 < json.length()) {
                char e = json.charAt(++i);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'u' -> {
                        if (i + 4 < json.length()) {
                            out.append((char) Integer.parseInt(json.substring(i + 1, i + 5), 16));
                            i += 4;
                        }
                    }
                    default -> out.append(e);
                }
            } else {
                out.append(c);
            }
        }
        return null;
    }

    /** The value of {@code "key":123}, or -1 when absent or not a number. */
    static int integer(String json, String key) {
        String needle = "\"" + key + "\":";
        int at = json.indexOf(needle);
        if (at < 0) return -1;
        int i = at + needle.length(), end = i;
        while (end < json.length() && Character.isDigit(json.charAt(end))) end++;
        if (end == i) return -1;
        try {
            return Integer.parseInt(json.substring(i, end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
