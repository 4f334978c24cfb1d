package io.cloudbridge.ice.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What two nodes tell each other over the signalling stream ({@code ice.offer}, version 1): the
 * credentials of the sender's current ICE session and its candidates so far. Candidates trickle:
 * a node sends its offer again, same credentials, whenever it gathers more, and the receiver adds
 * them. New credentials mean the sender restarted (its addresses changed, or its checks failed).
 *
 * @param wantsAnswer whether the receiver should send its own offer back (a node that starts or
 *                    restarts asks; an answer does not, so two nodes never loop)
 */
record IceOffer(String ufrag, String password, boolean wantsAnswer, List<Candidate> candidates) {
    static final String TYPE = "ice.offer";
    static final int VERSION = 1;
    static final int MAX_CANDIDATES = 32;

    IceOffer {
        candidates = List.copyOf(candidates);
    }

    byte[] encode() {
        StringBuilder out = new StringBuilder();
        out.append("ufrag ").append(ufrag).append('\n');
        out.append("pwd ").append(password).append('\n');
        out.append("answer ").append(wantsAnswer ? "wanted" : "not-wanted").append('\n');
        for (Candidate c : candidates) {
            out.append(c.toLine()).append('\n');
        }
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Parses an offer; a clear {@link IllegalArgumentException} for anything that is not one. */
    static IceOffer decode(byte[] payload) {
        if (payload.length > io.cloudbridge.api.mesh.Signalling.MAX_PAYLOAD) {
            throw new IllegalArgumentException("an offer of " + payload.length + " bytes is too large");
        }
        String ufrag = null;
        String password = null;
        Boolean wantsAnswer = null;
        List<Candidate> candidates = new ArrayList<>();
        for (String line : new String(payload, StandardCharsets.UTF_8).split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            if (line.startsWith("ufrag ")) {
                ufrag = iceChars(line.substring(6), 4, 256, "ufrag");
            } else if (line.startsWith("pwd ")) {
                password = iceChars(line.substring(4), 22, 256, "pwd");
            } else if (line.startsWith("answer ")) {
                wantsAnswer = switch (line.substring(7)) {
                    case "wanted" -> true;
                    case "not-wanted" -> false;
                    default -> throw new IllegalArgumentException("answer is 'wanted' or 'not-wanted'");
                };
            } else if (line.startsWith("candidate:")) {
                if (candidates.size() == MAX_CANDIDATES) {
                    throw new IllegalArgumentException("more than " + MAX_CANDIDATES + " candidates");
                }
                candidates.add(Candidate.parse(line));
            } else {
                throw new IllegalArgumentException("an offer line of no known kind: '"
                        + (line.length() > 40 ? line.substring(0, 40) + "..." : line) + "'");
            }
        }
        if (ufrag == null || password == null || wantsAnswer == null) {
            throw new IllegalArgumentException("an offer needs ufrag, pwd and answer lines");
        }
        return new IceOffer(ufrag, password, wantsAnswer, candidates);
    }

    /** RFC 8839's ice-char: ALPHA / DIGIT / "+" / "/". */
    private static String iceChars(String value, int min, int max, String what) {
        if (value.length() < min || value.length() > max || !value.matches("[A-Za-z0-9+/]+")) {
            throw new IllegalArgumentException(what + " must be " + min + " to " + max + " characters of A-Z a-z 0-9 + /");
        }
        return value;
    }
}
