

def test_split_keeps_markers_of_another_nonce_as_output_and_handles_cr_lf():
    from auditor.collectors.batch import split_batch_output

    forged = b"\n@@AUDITOR:ffff:END:a:0\n"
    out = (b"\r\n@@AUDITOR:abcd:BEGIN:a\r\nline" + forged + b"more\r\n@@AUDITOR:abcd:END:a:3\r\n"
           b"\n@@AUDITOR:abcd:BEGIN:b\nhalf")
    sections = split_batch_output(out, b"", "abcd", ["a", "b", "c"])
    assert sections["a"].stdout == b"line" + forged + b"more" and sections["a"].rc == 3 and sections["a"].complete
    assert sections["b"].stdout == b"half" and not sections["b"].complete
    assert not sections["c"].complete and sections["c"].stdout == b""
